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
from stdnum.cn import uscc

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
_LEGAL_FORMS_ZH = ["股份有限公司", "有限责任公司", "有限公司", "公司", "集团", "股份", "有限"]
_LEGAL_FORMS_EN = [
    "company limited", "co ltd", "co limited", "limited", "ltd", "incorporated", "inc", "corporation", "corp",
    "company", "co", "llc", "plc", "gmbh", "group",
]
_PROVINCES = [
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西",
    "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古",
    "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
]
_CITIES = [
    "深圳", "广州", "杭州", "南京", "苏州", "成都", "武汉", "西安", "长沙", "郑州", "济南", "青岛", "宁波", "厦门",
    "福州", "合肥", "沈阳", "大连", "哈尔滨", "长春", "石家庄", "太原", "南昌", "南宁", "昆明", "贵阳", "兰州",
    "海口", "三亚", "无锡", "常州", "佛山", "东莞", "珠海", "中山", "惠州", "温州", "绍兴", "嘉兴", "金华", "台州",
    "烟台", "潍坊", "徐州", "南通", "扬州", "泉州", "漳州", "洛阳", "宜昌", "襄阳", "芜湖", "绵阳", "乌鲁木齐",
    "呼和浩特", "银川", "西宁", "拉萨", "唐山", "保定", "廊坊", "秦皇岛",
]
_REGION_SUFFIX = "(?:省|市|自治区|特别行政区|壮族自治区|回族自治区|维吾尔自治区)?"
_REGIONS = sorted(_PROVINCES + _CITIES, key=len, reverse=True)
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


LATIN_PATTERN = "^[a-z0-9]{6,}$"  # also the predicate of the trigram index (intake.companies)
LATIN_CORE = re.compile(LATIN_PATTERN)
MIN_TYPO_CORE = 6  # shorter cores are mostly brand: 小米科技 vs 小马科技, 华信通科技 vs 华信达科技 are two companies


def deletion_variants(core: str) -> list[str]:
    """The core with each one character left out: two cores one typo apart share one of these
    (SymSpell's idea), so an index on them finds typo'd names without a scan."""
    if len(core) < 4:
        return [core]
    return sorted({core[:i] + core[i + 1:] for i in range(len(core))} | {core})


@lru_cache(maxsize=65536)
def typo_variants(core: str) -> tuple[str, ...]:
    """What the typo index keeps of a core: its deletion variants, where a one-typo match may count
    (CJK-ish cores of 6–30 characters; Latin names are matched by trigrams instead)."""
    if LATIN_CORE.match(core) or not MIN_TYPO_CORE <= len(core) <= 30:
        return ()
    return tuple(deletion_variants(core))
