"""Normal forms for matching (查重), shared by intake (dedupe) and scoring (registry matching): the
original is kept for display, matching uses these.

Every function is idempotent: normalizing a normal form returns it unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc
import phonenumbers
from rapidfuzz.distance import Hamming
from stdnum.cn import uscc

from leadflow_shared import divisions

DEFAULT_REGION = "CN"


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def fold_width(text: str) -> str:
    """NFKC: full-width letters, digits and punctuation become their ASCII forms (１３８ → 138)."""
    return unicodedata.normalize("NFKC", text)


def simplified(text: str) -> str:
    """Traditional → simplified Chinese (張偉 → 张伟), via OpenCC."""
    return _t2s().convert(text)


_SPACE_AND_PUNCT = re.compile(r"[\s\u3000·・.,，。、;；:：'\"“”‘’`~!！?？@#$%^&*_+=|\\/<>《》\-—–()（）\[\]【】{}]+")


def _lowered(text: str) -> str:
    """NFKC, simplified, lower-case, and NFKC again (lower-casing can undo composition)."""
    return fold_width(simplified(fold_width(text)).lower())


def fold(text: str) -> str:
    """NFKC, simplified Chinese, lower-case, without spaces or punctuation: the matching form."""
    # NFKC once more: dropping punctuation can leave a combining mark beside a new base letter
    return fold_width(_SPACE_AND_PUNCT.sub("", _lowered(text)))


def person_name(text: str) -> str:
    return fold(text)


# ---- contacts -------------------------------------------------------------------------------

class InvalidContact(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# A Chinese mobile already written as 13800138000 or +8613800138000, the common case by far: phonenumbers
# would parse it the same way, at six times the cost of checking it.
_PLAIN_CN_MOBILE = re.compile(r"(?:\+86)?(1[0-9]{10})")


def phone(text: str, region: str = DEFAULT_REGION) -> str:
    """E.164 (+8613800138000) from any common writing: +86 138-0013-8000, 0086…, full-width digits."""
    cleaned = fold_width(text).strip()
    if region == "CN" and (plain := _PLAIN_CN_MOBILE.fullmatch(cleaned)):
        number = phonenumbers.PhoneNumber(country_code=86, national_number=int(plain[1]))
    else:
        number = _parsed(cleaned, region)
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact("invalid_phone", "not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parsed(text: str, region: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidContact("invalid_phone", f"not a phone number: {exc}") from exc


_EMAIL = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")


def email(text: str) -> str:
    """Lower-cased, trimmed; refused when it is not an address."""
    value = fold_width(text).strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidContact("invalid_email", "not an e-mail address")
    return value


_WECHAT = re.compile(r"^[a-z][a-z0-9_-]{5,19}$")


def wechat(text: str) -> str:
    """A WeChat id, lower-cased; a phone number given as WeChat becomes its E.164 form."""
    value = fold_width(text).strip().lower().replace(" ", "")
    if _WECHAT.match(value):
        return value
    try:
        return phone(value)
    except InvalidContact:
        raise InvalidContact("invalid_wechat", "a WeChat id is 6–20 letters, digits, _ or -, starting with a letter") from None


def credit_code(text: str) -> str:
    """统一社会信用代码: 18 characters with a checksum (python-stdnum)."""
    value = fold_width(text).strip().upper().replace(" ", "").replace("-", "")
    if not uscc.is_valid(value):
        raise InvalidContact("invalid_credit_code", "not a valid unified social credit code (统一社会信用代码)")
    return value


# ---- companies ------------------------------------------------------------------------------

# Longest first, so 股份有限公司 is not read as 有限公司 plus leftovers.
_LEGAL_FORMS_ZH = ["股份有限公司", "有限责任公司", "责任有限公司", "有限公司", "有限责任", "公司", "集团", "股份", "有限"]
_LEGAL_FORMS_EN = [
    "company limited", "co ltd", "co limited", "limited", "ltd", "incorporated", "inc", "corporation", "corp",
    "company", "co", "llc", "plc", "gmbh", "group",
]
_CITIES = [
    "深圳", "广州", "杭州", "南京", "苏州", "成都", "武汉", "西安", "长沙", "郑州", "济南", "青岛", "宁波", "厦门",
    "福州", "合肥", "沈阳", "大连", "哈尔滨", "长春", "石家庄", "太原", "南昌", "南宁", "昆明", "贵阳", "兰州",
    "海口", "三亚", "无锡", "常州", "佛山", "东莞", "珠海", "中山", "惠州", "温州", "绍兴", "嘉兴", "金华", "台州",
    "烟台", "潍坊", "徐州", "南通", "扬州", "泉州", "漳州", "洛阳", "宜昌", "襄阳", "芜湖", "绵阳", "乌鲁木齐",
    "呼和浩特", "银川", "西宁", "拉萨", "唐山", "保定", "廊坊", "秦皇岛",
]
# The regions the parser strips from a name: every province, and the cities most names start with (not
# every prefecture: 宁德 begins 宁德时代). divisions.ALL, the fuller list, serves the tolerant readings.
_REGION_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")
_REGION_SUFFIX = f"(?:{'|'.join(_REGION_SUFFIXES)})?"
_REGIONS = sorted([*divisions.PROVINCES, *_CITIES], key=len, reverse=True)
_REGION_PREFIX = re.compile(rf"^(?:({'|'.join(_REGIONS)}){_REGION_SUFFIX})+")
_REGION_IN_PARENS = re.compile(rf"[(（]\s*(中国|{'|'.join(_REGIONS)}){_REGION_SUFFIX}\s*[)）]")
_GROUP_IN_PARENS = re.compile(r"[(（]\s*集团\s*[)）]")
_EN_LEGAL = re.compile(rf"(?:\s|^)(?:{'|'.join(re.escape(f) for f in _LEGAL_FORMS_EN)})\.?$")


@dataclass(frozen=True)
class CompanyName:
    """A company name taken apart for matching: its core (brand + business), region and legal form."""

    core: str  # 示例科技 for 上海示例科技有限公司, 示例科技(上海)有限公司, 示例科技股份有限公司
    region: str | None
    legal_form: str | None

    @property
    def canonical(self) -> str:
        """One spelling for every writing of the same name: core, then (region), then legal form."""
        region = f"({self.region})" if self.region else ""
        legal = f" {self.legal_form}" if self.legal_form and self.legal_form.isascii() else self.legal_form or ""
        return f"{self.core}{region}{legal}"


# Spaces between Chinese characters (or brackets) mean nothing: 阿里巴巴 ( 中 国 ) 网络…; Latin words keep theirs.
_SPACE_BESIDE_CJK = re.compile(r"(?<=[^\x00-\x27\x2a-\x7f])\s+(?=[^\x00-\x27\x2a-\x7f])")


@lru_cache(maxsize=65536)
def company_name(text: str) -> CompanyName:
    value = _GROUP_IN_PARENS.sub("集团", _SPACE_BESIDE_CJK.sub("", _lowered(text).strip()))
    region = None
    if match := _REGION_IN_PARENS.search(value):
        region = match.group(1)
        value = value[: match.start()] + value[match.end():]
    value, legal_en = _strip_english_legal_form(value)  # needs its spaces: "co., ltd."
    value, legal_zh = _strip_chinese_legal_form(fold(value))
    if match := _REGION_PREFIX.match(value):
        stripped = value[match.end():]
        if len(stripped) >= 3:  # 上海银行 stays whole: 银行 alone names no company
            region = region or match.group(1)
            value = stripped
    legal_form = legal_zh or legal_en
    core = value
    if not core:  # nothing but a region and/or a legal form: the name is what there is
        core = fold(region or "") or fold(legal_form or "")
        region, legal_form = (None, legal_form) if region else (None, None)
    return CompanyName(core=core, region=region, legal_form=legal_form)


def _strip_english_legal_form(value: str) -> tuple[str, str | None]:
    latin = re.sub(r"\s+", " ", re.sub(r"[,.]", " ", value))
    found: str | None = None
    while True:
        match = _EN_LEGAL.search(latin.rstrip())
        if not match or not latin[: match.start()].strip():
            break
        found = "ltd"
        latin = latin[: match.start()]
    return (latin, found) if found else (value, None)


def _strip_chinese_legal_form(value: str) -> tuple[str, str | None]:
    forms: list[str] = []
    stripped = True
    while stripped:  # 保险集团股份有限公司: 股份有限公司, then 集团
        stripped = False
        for form in _LEGAL_FORMS_ZH:
            if value.endswith(form) and len(value) > len(form):
                forms.append(form)
                value = value[: -len(form)]
                stripped = True
                break
    if not forms:
        return value, None
    joined = "".join(forms)
    return value, "股份有限公司" if "股份" in joined else "有限公司" if "有限" in joined else "公司"


_PLACES_BEFORE_A_NAME = divisions.ALL - divisions.BRAND_WORDS


def distinctive(core: str) -> str:
    """The core without a place it starts with (a place before a short name stays in the core: 深圳市兆驰,
    昆山龙腾光电): what tells two companies apart, and what a typo's length is measured on. A place that is
    also a brand's first word (东方财富, 宁德时代) counts as place only before 市 or 省."""
    for size in (4, 3, 2):
        head = core[:size]
        rest, suffixed = _without_region_suffix(core[size:], leading=True)
        if head in _PLACES_BEFORE_A_NAME or (suffixed and head in divisions.ALL):
            return rest if len(rest) >= 2 else core
    return core


LATIN_PATTERN = "^[a-z0-9]{6,}$"  # also the predicate of the trigram index (intake.companies)
LATIN_CORE = re.compile(LATIN_PATTERN)
MIN_TYPO_CORE = 5  # shorter cores are mostly brand: 小米科技 vs 小马科技 are two companies (five: see matching)


def deletion_variants(core: str) -> list[str]:
    """The core with each one character left out: two cores one typo apart share one of these
    (SymSpell's idea), so an index on them finds typo'd names without a scan."""
    if len(core) < 4:
        return [core]
    return sorted({core[:i] + core[i + 1:] for i in range(len(core))} | {core})


@lru_cache(maxsize=65536)
def typo_variants(core: str) -> tuple[str, ...]:
    """What the typo index keeps of a core: its deletion variants, where a one-typo match may count
    (CJK-ish cores of 5–30 characters; Latin names are matched by trigrams instead)."""
    if LATIN_CORE.match(core) or not MIN_TYPO_CORE <= len(core) <= 30:
        return ()
    return tuple(deletion_variants(core))


# ---- tolerant readings: one slip in a region or a legal form -------------------------------------

@dataclass(frozen=True)
class NameReading:
    """Another reading of a company name, with one slip read through: 金份有限公司 as 股份有限公司, 东团 as
    集团, 深中市 or (北圳) as 深圳, Taiwan phrasing (資訊, 軟體) as mainland (信息, 软件).

    A reading is for linking to a company we already know, and only on an equal core. `region_guesses` are
    the places a region typed with one wrong character may have meant (empty when the slip was elsewhere);
    `region_certain` says it stood where only a region stands (before 省/市, or alone in brackets), so a
    company of no known region may take it; otherwise the company must be in one of the guessed places.
    """

    core: str
    region: str | None
    slip: str  # legal_form | group | region | phrasing
    region_guesses: frozenset[str] = frozenset()
    region_certain: bool = True
    place_in_core: bool = False  # 夏门象屿 read as 厦门象屿: only where the lead itself says it is in 厦门


# Words that end in 团 or 份 and are not a slipped 集团 or 股份 (乐团, 身份); 股权 and 股东 are not 股份.
_REAL_TUAN = frozenset("乐剧舞社唱技军兵财商旅艺")
_TUAN_ALIKES = frozenset("因图园困围国圆固回囝湍抟疃")  # 集因, 集图: 团 mistyped (集成 and 集美 are words)
_REAL_FEN = frozenset("身省月年部")
_LONG_FORMS = ("股份有限公司", "有限责任公司", "有限公司")
_SLIPPED_REGION_IN_PARENS = re.compile(r"[(（]([^()（）]{2,9})[)）]")
_TWO_IN_PARENS = re.compile(r"[(（]([^()（）]{2})[)）]")


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def _one_substitution(typed: str, meant: str) -> bool:
    """One character typed in place of another (a slip keeps the length: 金份 for 股份, 深中 for 深圳)."""
    return len(typed) == len(meant) and Hamming.distance(typed, meant) == 1


@lru_cache(maxsize=65536)
def company_readings(text: str) -> tuple[NameReading, ...]:
    """The other ways to read this name when one part of it was mistyped (none for most names)."""
    strict = company_name(text)
    value = _GROUP_IN_PARENS.sub("集团", _SPACE_BESIDE_CJK.sub("", _lowered(text).strip()))
    found: dict[tuple[str, str | None, frozenset[str]], NameReading] = {}
    for reading in (*_legal_form_slips(value), *_region_slips(value, strict), *_short_name(strict),
                    *_phrasing(text, strict)):
        if reading.core and (reading.core != strict.core or reading.region_guesses):
            found.setdefault((reading.core, reading.region, reading.region_guesses), reading)
    return tuple(found.values())


def _legal_form_slips(value: str) -> list[NameReading]:
    """金份有限公司, 有限公可, 东团: the name read with the legal form or group marker it was meant to have."""
    out = []
    written = max((len(f) for f in _LONG_FORMS if value.endswith(f)), default=0)  # 金份有限公司 ends in 有限公司
    for form in _LONG_FORMS:
        tail = value[-len(form):]
        if len(form) > written and len(value) > len(form) + 1 and _one_substitution(tail, form) \
                and all(map(_is_cjk, tail)) and not _real_word_before(value, form):
            corrected = company_name(value[: -len(form)] + form)
            out.append(NameReading(corrected.core, corrected.region, "legal_form"))
            break
    if not out and len(value) > 3 and value[-1] == "司" and value[-2] != "公" and _is_cjk(value[-2]):
        corrected = company_name(value[:-2] + "公司")  # 海尔集团工司
        out.append(NameReading(corrected.core, corrected.region, "legal_form"))
    match = next((m for m in _TWO_IN_PARENS.finditer(value) if _slipped_group(m.group(1))), None)
    if match:  # (东团) for (集团)
        corrected = company_name(value[: match.start()] + "集团" + value[match.end():])
        out.append(NameReading(corrected.core, corrected.region, "group"))
    head, tail = _split_legal_tail(value)
    if len(head) >= 4 and _slipped_group(head[-2:]):
        corrected = company_name(head[:-2] + "集团" + tail)
        out.append(NameReading(corrected.core, corrected.region, "group"))
    return out


def _slipped_group(word: str) -> bool:
    """东团, 南团, 集因, 集图: 集团 with one character wrong, but not 乐团 or 集成."""
    first, second = word
    if second == "团":
        return first != "集" and _is_cjk(first) and first not in _REAL_TUAN
    return first == "集" and second in _TUAN_ALIKES


def _real_word_before(value: str, form: str) -> bool:
    """股权有限公司 is 股权, not a slipped 股份; 身份 is a word too."""
    tail = value[-len(form):]
    return form == "股份有限公司" and (tail[1] in "权东" or (tail[0] != "股" and tail[0] in _REAL_FEN))


def _split_legal_tail(value: str) -> tuple[str, str]:
    """The name before its (exactly written) legal form, and the form."""
    for form in _LONG_FORMS + ("公司",):
        if value.endswith(form) and len(value) > len(form):
            return value[: -len(form)], form
    return value, ""


def _region_slips(value: str, strict: CompanyName) -> list[NameReading]:
    out = []
    for match in _SLIPPED_REGION_IN_PARENS.finditer(value):
        token, _ = _without_region_suffix(match.group(1))
        if guesses := region_guesses(token):
            corrected = company_name(value[: match.start()] + value[match.end():])
            if corrected.region is None:
                out.append(NameReading(corrected.core, None, "region", guesses, region_certain=True))
    if strict.region is None:
        core = strict.core
        for size in (2, 3):
            rest, suffixed = _without_region_suffix(core[size:], leading=True)
            guesses = region_guesses(core[:size]) if len(rest) >= 2 else frozenset()
            if len(rest) >= 3 and guesses:
                out.append(NameReading(rest, None, "region", guesses, region_certain=suffixed))
            # a place the parser keeps in the core (厦门象屿, 宜宾五粮液): read it there, if the lead is there
            out += [NameReading(place + core[size:], None, "region", frozenset({place}), region_certain=False,
                                place_in_core=True) for place in sorted(guesses)]
    return out


def _without_region_suffix(text: str, *, leading: bool = False) -> tuple[str, bool]:
    for suffix in _REGION_SUFFIXES:
        if leading and text.startswith(suffix):
            return text[len(suffix):], True
        if not leading and text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)], True
    return text, False


@lru_cache(maxsize=4096)
def region_guesses(token: str) -> frozenset[str]:
    """The places `token` is one wrong character from; none when it is itself a place."""
    if token in divisions.ALL or not all(map(_is_cjk, token)):
        return frozenset()
    return frozenset(place for place in divisions.ALL if _one_substitution(token, place))


def _short_name(strict: CompanyName) -> list[NameReading]:
    """北京联想: a region before a name of two characters, which the strict reading keeps whole (上海银行)."""
    match = _REGION_PREFIX.match(strict.core) if strict.region is None else None
    if match and len(rest := strict.core[match.end():]) == 2:
        place = match.group(1)  # the company must be known to be there: 上海联想 is not 联想集团
        return [NameReading(rest, place, "region", frozenset({place}), region_certain=False)]
    return []


@lru_cache(maxsize=1)
def _tw2sp() -> opencc.OpenCC:
    return opencc.OpenCC("tw2sp")


# Taiwan's words for what the mainland calls otherwise, as they appear in company names (after t2s).
_MAINLAND_WORDS = {"资讯": "信息", "软体": "软件", "硬体": "硬件", "网路": "网络", "线上": "在线", "数位": "数字",
                   "行动": "移动", "晶片": "芯片", "程式": "程序", "云端": "云", "影音": "音视频", "电脑": "计算机"}
_MAINLAND_WORD = re.compile("|".join(_MAINLAND_WORDS))


def _phrasing(text: str, strict: CompanyName) -> list[NameReading]:
    """資訊科技, 網路, 軟體: a name written with Taiwan's words, read with the mainland's (OpenCC's phrases,
    and word for word: 資訊科技 may have been 信息技术 or 信息科技)."""
    out = []
    folded = fold_width(text)
    mainland = _tw2sp().convert(folded)
    if mainland != folded:
        read = company_name(mainland)
        out.append(NameReading(read.core, read.region, "phrasing"))
    worded = _MAINLAND_WORD.sub(lambda m: _MAINLAND_WORDS[m.group(0)], strict.core)
    if worded != strict.core:
        out.append(NameReading(worded, strict.region, "phrasing"))
    return out
