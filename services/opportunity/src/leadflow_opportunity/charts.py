"""Sales funnel charts (销售漏斗) rendered to SVG or PNG bytes, with Chinese labels in a real CJK font.

Pure rendering: no I/O besides an in-memory buffer. Uses matplotlib's object API (``Figure`` + the Agg /
SVG canvases, never pyplot), so it may be called from a web server's threads. Two pieces of matplotlib state
are process-global and are therefore only touched under ``_LOCK``: the font manager (the CJK font is added
to it once, lazily, by path) and ``rcParams`` (the SVG options, set with ``rc_context`` around each save).

The CJK font comes from Debian's ``fonts-noto-cjk`` (``make setup`` installs it); ``fonts-wqy-zenhei`` is
accepted as a fallback. Without either, rendering raises ``RuntimeError`` rather than drawing tofu boxes.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib import font_manager as fm
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Polygon, Rectangle

__all__ = ["FunnelBar", "funnel_png", "funnel_svg"]


@dataclass(frozen=True)
class FunnelBar:
    label: str          # e.g. "线索" / "Leads"
    count: int
    rate: float | None  # conversion from the previous step, 0..1 (None for the first)


# ---- the CJK font ------------------------------------------------------------------------------------

#: Where Debian puts the fonts we accept, best first (checked before any scan of the system's fonts).
_KNOWN_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",   # fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",      # fonts-noto-cjk
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",             # fonts-wqy-zenhei
)
#: File-name stems recognised when scanning ``fm.findSystemFonts()`` (other distributions, macOS builds).
_FONT_FILE_HINTS = ("notosanscjk", "notosanssc", "sourcehansans", "wqy-zenhei", "wqy-microhei")
#: Family names in order of preference; a TTC of Noto holds SC, TC, JP, KR and HK faces: we want SC.
_FAMILY_PREFERENCE = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
)
#: What an SVG viewer should try, after the family we measured the text with.
_SVG_FALLBACK_FAMILIES = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "PingFang SC", "Hiragino Sans GB",
    "Microsoft YaHei", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "sans-serif",
)
_PROBE = "线索商机赢单回款转化率整体"

_LOCK = threading.RLock()
_family: str | None = None


def _candidate_files() -> list[str]:
    known = [p for p in _KNOWN_FONT_FILES if Path(p).is_file()]
    if known:
        return known
    return sorted(p for p in fm.findSystemFonts()
                  if any(h in Path(p).name.lower() for h in _FONT_FILE_HINTS))


def _covers_probe(entry: fm.FontEntry) -> bool:
    font = fm.get_font(fm.FontPath(entry.fname, entry.index))
    return all(font.get_char_index(ord(c)) for c in _PROBE)


def cjk_family() -> str:
    """The family name of the installed CJK font, added to matplotlib's font manager on first use."""
    global _family
    if _family is not None:
        return _family
    with _LOCK:
        if _family is None:
            files = _candidate_files()
            known = {e.fname for e in fm.fontManager.ttflist}
            for path in files:
                if path not in known:
                    fm.fontManager.addfont(path)
            names = {e.name for e in fm.fontManager.ttflist
                     if e.fname in files and _covers_probe(e)}
            family = next((f for f in _FAMILY_PREFERENCE if f in names), None) or min(names, default=None)
            if family is None:
                raise RuntimeError(
                    "no font with Simplified Chinese glyphs is installed, so the funnel's labels would render "
                    "as empty boxes: install the Debian package 'fonts-noto-cjk' (`make setup` does it; "
                    "'fonts-wqy-zenhei' also works)")
            _family = family
    return _family


# ---- layout --------------------------------------------------------------------------------------------

_TEXT = {
    "zh": {"rate": "转化率 {:.1%}", "overall": "整体转化率（{} → {}）", "stage": "阶段", "count": "数量",
           "conv": "环节转化"},
    "en": {"rate": "{:.1%} of previous", "overall": "Overall conversion ({} → {})", "stage": "Stage",
           "count": "Count", "conv": "Step conversion"},
}

_INK = "#1f2937"          # titles, labels
_MUTED = "#6b7280"        # subtitle, headers
_RATE = "#4b5563"         # the step conversion rates
_RULE = "#e5e7eb"
_TOP, _BOTTOM = "#1e3a8a", "#60a5fa"   # one hue (blue), dark at the top to light at the bottom
_NECK = "#dbeafe"

_MIN_WIDTH = 0.012        # share of the widest bar below which a bar is drawn as a sliver of this width
_INSIDE_WIDTH = 0.20      # bars at least this wide carry their count inside, others just beside it

# horizontal geometry, in figure fractions
_LABEL_X = 0.215          # right edge of the stage labels
_FUNNEL_LEFT, _FUNNEL_RIGHT = 0.245, 0.745
_RATE_X = 0.775           # left edge of the conversion column
_WIDTH_IN = 10.0
_ROW_IN, _HEAD_IN, _FOOT_IN = 0.62, 1.35, 0.85
_BAR_SHARE = 0.74         # of a row's height; the rest is the funnel's neck


def _mix(a: str, b: str, t: float) -> str:
    ra, rb = to_rgb(a), to_rgb(b)
    return to_hex(tuple(x + (y - x) * t for x, y in zip(ra, rb, strict=True)))


def _luminance(colour: str) -> float:
    r, g, b = to_rgb(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _widths(bars: Sequence[FunnelBar]) -> list[float]:
    top = max(b.count for b in bars)
    return [max(b.count / top if top else 0.0, _MIN_WIDTH) for b in bars]


def _check(bars: Sequence[FunnelBar], language: str) -> None:
    if not bars:
        raise ValueError("a funnel needs at least one step")
    if language not in _TEXT:
        raise ValueError(f"language must be one of {sorted(_TEXT)}, not {language!r}")
    for bar in bars:
        if bar.count < 0:
            raise ValueError(f"step {bar.label!r} has a negative count ({bar.count})")


def _figure(bars: Sequence[FunnelBar], title: str, subtitle: str | None, language: str) -> Figure:
    _check(bars, language)
    family = cjk_family()
    text = _TEXT[language]

    def font(size: float, weight: str = "normal") -> FontProperties:
        return FontProperties(family=family, size=size, weight=weight)

    n = len(bars)
    height_in = _HEAD_IN + n * _ROW_IN + _FOOT_IN
    fig = Figure(figsize=(_WIDTH_IN, height_in), facecolor="white")
    FigureCanvasAgg(fig)

    def y_of(inches_from_top: float) -> float:
        return 1.0 - inches_from_top / height_in

    # title, subtitle, column headers
    fig.text(0.04, y_of(0.42), title, fontproperties=font(17, "bold"), color=_INK, va="center")
    if subtitle:
        fig.text(0.04, y_of(0.74), subtitle, fontproperties=font(10.5), color=_MUTED, va="center")
    header_y = y_of(_HEAD_IN - 0.2)
    centre = (_FUNNEL_LEFT + _FUNNEL_RIGHT) / 2
    span = _FUNNEL_RIGHT - _FUNNEL_LEFT
    for x, label, ha in ((_LABEL_X, text["stage"], "right"), (centre, text["count"], "center"),
                         (_RATE_X, text["conv"], "left")):
        fig.text(x, header_y, label, fontproperties=font(9), color=_MUTED, ha=ha, va="center")
    rule_y = y_of(_HEAD_IN - 0.02)
    fig.add_artist(Line2D([0.04, 0.96], [rule_y, rule_y], transform=fig.transFigure, color=_RULE,
                          linewidth=0.8))

    widths = _widths(bars)
    row_h = _ROW_IN / height_in
    bar_h = row_h * _BAR_SHARE
    tops = [y_of(_HEAD_IN + i * _ROW_IN + _ROW_IN * (1 - _BAR_SHARE) / 2) for i in range(n)]

    # the neck between two bars: a pale trapezoid from the bottom of one to the top of the next
    for i in range(n - 1):
        upper, lower = widths[i] * span / 2, widths[i + 1] * span / 2
        y0, y1 = tops[i] - bar_h, tops[i + 1]
        fig.add_artist(Polygon([(centre - upper, y0), (centre + upper, y0), (centre + lower, y1),
                                (centre - lower, y1)], closed=True, transform=fig.transFigure,
                               facecolor=_NECK, edgecolor="none", zorder=1))

    for i, (bar, width) in enumerate(zip(bars, widths, strict=True)):
        colour = _mix(_TOP, _BOTTOM, i / (n - 1) if n > 1 else 0.0)
        half = width * span / 2
        top = tops[i]
        mid = top - bar_h / 2
        patch = Rectangle((centre - half, top - bar_h), 2 * half, bar_h, transform=fig.transFigure,
                          facecolor=colour, edgecolor="none", zorder=2)
        patch.set_gid(f"funnel-bar-{i}")
        fig.add_artist(patch)

        fig.text(_LABEL_X, mid, bar.label, fontproperties=font(12.5, "bold"), color=_INK,
                 ha="right", va="center_baseline")
        count = f"{bar.count:,}"
        if width >= _INSIDE_WIDTH:
            ink = "white" if _luminance(colour) < 0.55 else _INK
            fig.text(centre, mid, count, fontproperties=font(12.5, "bold"), color=ink,
                     ha="center", va="center_baseline", zorder=3)
        else:
            fig.text(centre + half + 0.012, mid, count, fontproperties=font(12.5, "bold"), color=_INK,
                     ha="left", va="center_baseline", zorder=3)
        if bar.rate is not None:
            fig.text(_RATE_X, mid, text["rate"].format(bar.rate), fontproperties=font(11),
                     color=_RATE, ha="left", va="center_baseline")

    # the overall conversion, first step to last, in a pale pill at the bottom
    first, last = bars[0], bars[-1]
    overall = f"{last.count / first.count:.1%}" if first.count else "—"
    foot_y = y_of(_HEAD_IN + n * _ROW_IN + 0.42)
    fig.add_artist(FancyBboxPatch((0.04, foot_y - 0.2 / height_in), 0.92, 0.4 / height_in,
                                  boxstyle="round,pad=0,rounding_size=0.006", transform=fig.transFigure,
                                  facecolor="#eff6ff", edgecolor="none"))
    fig.text(0.06, foot_y, text["overall"].format(first.label, last.label), fontproperties=font(11),
             color=_INK, ha="left", va="center_baseline")
    fig.text(0.94, foot_y, overall, fontproperties=font(14, "bold"), color=_TOP,
             ha="right", va="center_baseline")
    return fig


# ---- output --------------------------------------------------------------------------------------------

_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "leadflow-funnel"}  # text as text; stable ids


def funnel_svg(bars: Sequence[FunnelBar], *, title: str, subtitle: str | None = None,
               language: str = "zh") -> bytes:
    """The funnel as SVG: text kept as text (checkable, small), font-family falling back to common CJK fonts.

    No date or creator metadata, so equal input gives equal bytes."""
    fig = _figure(bars, title, subtitle, language)
    buf = io.BytesIO()
    with _LOCK, matplotlib.rc_context(_SVG_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    family = cjk_family()
    fallback = ", ".join(dict.fromkeys(
        [f"'{family}'"] + [f if f == "sans-serif" else f"'{f}'" for f in _SVG_FALLBACK_FAMILIES]))
    return buf.getvalue().replace(f"font-family: '{family}'".encode(), f"font-family: {fallback}".encode())


def funnel_png(bars: Sequence[FunnelBar], *, title: str, subtitle: str | None = None, language: str = "zh",
               dpi: int = 144) -> bytes:
    """The funnel as PNG, without the variable metadata (Software), so equal input gives equal bytes."""
    fig = _figure(bars, title, subtitle, language)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})  # PNG has no date unless asked
    return buf.getvalue()
