"""The sales funnel chart (销售漏斗): pure rendering, no infrastructure."""

from __future__ import annotations

import io
import re
import warnings
import xml.etree.ElementTree as ET

import pytest
from leadflow_opportunity import charts
from leadflow_opportunity.charts import FunnelBar, funnel_png, funnel_svg
from PIL import Image

SVG = "{http://www.w3.org/2000/svg}"
STEPS = [("线索", 10000), ("MQL", 4200), ("SQL", 2100), ("商机", 1300), ("赢单", 420), ("回款", 380)]


def _bars(steps: list[tuple[str, int]]) -> list[FunnelBar]:
    return [FunnelBar(label, count, None if i == 0 else (count / steps[i - 1][1] if steps[i - 1][1] else 0.0))
            for i, (label, count) in enumerate(steps)]


BARS = _bars(STEPS)


def _texts(svg: bytes) -> list[str]:
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]


def _bar_widths(svg: bytes, n: int) -> list[float]:
    root = ET.fromstring(svg)
    widths = []
    for i in range(n):
        group = root.find(f".//{SVG}g[@id='funnel-bar-{i}']")
        assert group is not None, f"funnel-bar-{i} is missing from the SVG"
        path = group.find(f"{SVG}path")
        assert path is not None
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
        xs = numbers[0::2]
        widths.append(max(xs) - min(xs))
    return widths


def _glyph_warnings(render) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_the_svg_shows_each_label_count_and_rate_as_text() -> None:
    svg = funnel_svg(BARS, title="销售漏斗", subtitle="2025 年第二季度")
    texts = _texts(svg)
    for label, count in STEPS:
        assert label in texts
        assert f"{count:,}" in texts
    assert "10,000" in texts and "1,300" in texts
    for rate in ("转化率 42.0%", "转化率 50.0%", "转化率 61.9%", "转化率 32.3%", "转化率 90.5%"):
        assert rate in texts
    assert "3.8%" in texts                       # overall, 线索 → 回款
    assert "销售漏斗" in texts and "2025 年第二季度" in texts
    assert b"<text" in svg and len(svg) < 60_000  # text kept as text, not glyph paths
    assert b"font-family: 'Noto Sans CJK SC'" in svg or charts.cjk_family().encode() in svg
    assert b"'Microsoft YaHei'" in svg and b"sans-serif" in svg


def test_the_english_svg_words_the_rate_as_a_share_of_the_previous_step() -> None:
    bars = [FunnelBar(name, b.count, b.rate) for name, b in zip(["Leads", "MQL", "SQL", "Opportunities", "Won",
                                                                  "Paid"], BARS, strict=True)]
    texts = _texts(funnel_svg(bars, title="Sales funnel", language="en"))
    assert "42.0% of previous" in texts and "Opportunities" in texts and "1,300" in texts
    assert any(t.startswith("Overall conversion (Leads → Paid)") for t in texts)


def test_bar_widths_follow_the_counts() -> None:
    widths = _bar_widths(funnel_svg(BARS, title="销售漏斗"), len(BARS))
    assert widths == sorted(widths, reverse=True)
    assert len(set(widths)) == len(widths)
    assert widths[1] / widths[0] == pytest.approx(0.42, rel=1e-3)   # proportional to the counts
    assert widths[-1] / widths[0] == pytest.approx(0.038, rel=1e-2)


def test_a_zero_step_renders_as_a_visible_sliver() -> None:
    bars = _bars([("线索", 1000), ("商机", 10), ("赢单", 0)])
    svg = funnel_svg(bars, title="销售漏斗")
    widths = _bar_widths(svg, 3)
    assert widths[0] > widths[1] >= widths[2] > 0
    assert "0" in _texts(svg) and "转化率 0.0%" in _texts(svg)
    assert funnel_png(bars, title="销售漏斗").startswith(b"\x89PNG\r\n\x1a\n")
    all_zero = _bars([("线索", 0), ("赢单", 0)])
    assert "—" in _texts(funnel_svg(all_zero, title="空"))        # no overall rate without a first step


def test_the_png_is_a_png_of_sensible_size() -> None:
    png = funnel_png(BARS, title="销售漏斗", subtitle="2025 年第二季度")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
        assert "Software" not in image.info
    assert width == 1440 and 600 <= height <= 1200
    with Image.open(io.BytesIO(funnel_png(BARS, title="销售漏斗", dpi=72))) as small:
        assert small.size[0] == 720


def test_chinese_labels_render_without_missing_glyphs() -> None:
    assert _glyph_warnings(lambda: funnel_png(BARS, title="销售漏斗", subtitle="全部渠道 · 本季度")) == []
    assert _glyph_warnings(lambda: funnel_svg(BARS, title="销售漏斗", subtitle="全部渠道 · 本季度")) == []
    # ...and the check would see a missing glyph (it is not vacuous)
    assert _glyph_warnings(lambda: funnel_png([FunnelBar("线索\U0001F600", 1, None)], title="t"))


def test_the_same_data_gives_the_same_bytes() -> None:
    assert funnel_svg(BARS, title="销售漏斗") == funnel_svg(BARS, title="销售漏斗")
    assert funnel_png(BARS, title="销售漏斗") == funnel_png(BARS, title="销售漏斗")
    assert b"<dc:date>" not in funnel_svg(BARS, title="销售漏斗")


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        funnel_svg([], title="销售漏斗")
    with pytest.raises(ValueError):
        funnel_svg([FunnelBar("线索", -1, None)], title="销售漏斗")
    with pytest.raises(ValueError):
        funnel_png(BARS, title="销售漏斗", language="fr")


def test_without_a_cjk_font_it_says_which_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "_family", None)
    monkeypatch.setattr(charts, "_candidate_files", list)
    with pytest.raises(RuntimeError, match="fonts-noto-cjk"):
        funnel_svg(BARS, title="销售漏斗")
