"""The labelled dedupe evaluation set (查重评测集): real company names, the ways people rewrite and mistype
them, and look-alikes that are other companies.

`companies.csv` holds real, public company names with the city and industry a lead would give. Each is
posted once (every other one with a credit code); every case is then posted as a new lead and is labelled
`same` (it must link to, or merge into, that first lead's company or person) or `apart` (it must not).
`cases.csv` is generated from these rules with a fixed seed and kept in the repository, so a change of
rules shows as a diff; `leadflow intake dedupe-eval --write-cases` regenerates it.

`blind/` is a second set in the same form, written by a tester from the requirement alone, without the
matching rules in view (95 other companies, their own variants and labels, including some they found
debatable). It is kept as written: it checks the rules against slips they were not made for.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path

import opencc
from rapidfuzz.distance import Hamming
from stdnum.cn import uscc

from leadflow_shared import divisions
from leadflow_shared.normalize import MIN_TYPO_CORE, company_name, distinctive, region_guesses

HERE = Path(__file__).parent
SETS = {"ours": HERE, "blind": HERE / "blind"}
CASES_FILE = HERE / "cases.csv"
SEED = 21

# Real companies that are not the one before them, however alike the names (different entity, region or
# business): a lead of the second must never link to the first.
LOOK_ALIKES = [
    ("网易(杭州)网络有限公司", "网易(北京)网络有限公司"), ("腾讯科技(深圳)有限公司", "腾讯科技(北京)有限公司"),
    ("腾讯科技(深圳)有限公司", "腾讯科技(上海)有限公司"), ("华为技术有限公司", "华为终端有限公司"),
    ("华为技术有限公司", "华为云计算技术有限公司"), ("小米科技有限责任公司", "小米通讯技术有限公司"),
    ("美团科技有限公司", "美团点评科技有限公司"), ("百度在线网络技术(北京)有限公司", "百度时代网络技术(北京)有限公司"),
    ("阿里巴巴(中国)网络技术有限公司", "阿里巴巴(北京)软件服务有限公司"), ("阿里巴巴(中国)网络技术有限公司", "阿里云计算有限公司"),
    ("中国平安保险(集团)股份有限公司", "中国平安财产保险股份有限公司"), ("中国平安保险(集团)股份有限公司", "中国平安人寿保险股份有限公司"),
    ("中国人寿保险股份有限公司", "中国人寿财产保险股份有限公司"), ("中国建筑股份有限公司", "中国建材股份有限公司"),
    ("北京京东世纪贸易有限公司", "北京京东叁佰陆拾度电子商务有限公司"), ("京东物流股份有限公司", "京东科技控股股份有限公司"),
    ("深圳市腾讯计算机系统有限公司", "腾讯音乐娱乐科技(深圳)有限公司"), ("联想(北京)有限公司", "联想(上海)电子科技有限公司"),
    ("上海寻梦信息技术有限公司", "上海寻梦网络科技有限公司"), ("北京快手科技有限公司", "北京快手广告有限公司"),
    ("中国银行股份有限公司", "中国光大银行股份有限公司"), ("招商银行股份有限公司", "招商证券股份有限公司"),
    ("中信证券股份有限公司", "中信建投证券股份有限公司"), ("中国东方航空股份有限公司", "东方航空物流股份有限公司"),
    ("长城汽车股份有限公司", "长城电脑股份有限公司"), ("海尔集团公司", "海尔智家股份有限公司"),
    ("美的集团股份有限公司", "美的置业集团有限公司"), ("格力地产股份有限公司", "珠海格力电器股份有限公司"),
    ("北京字节跳动科技有限公司", "北京字节跳动网络技术有限公司"), ("上海哔哩哔哩科技有限公司", "上海幻电信息科技有限公司"),
    ("顺丰速运有限公司", "顺丰控股股份有限公司"), ("中兴通讯股份有限公司", "中兴新通讯有限公司"),
    ("华润三九医药股份有限公司", "华润医药控股有限公司"), ("宁德时代新能源科技股份有限公司", "时代电服科技有限公司"),
]

# Characters a slip puts in place of another (common ones, so the mistyped name looks like a name).
SLIPS = "金中东南北新华天安信达通和平"
COMMON = "新华安信达通和平宏盛泰康源丰德嘉明光远成瑞兴益诚佳"
# What each character of a legal form is mistyped as: a near shape, a homophone, a slip of the IME.
FORM_SLIPS = {"股": "金中全服", "份": "分", "有": "友", "限": "艰眼很", "公": "工功", "司": "可同", "责": "则贵",
              "任": "壬"}
LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司")
FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


@dataclass(frozen=True)
class Company:
    number: int
    name: str
    city: str
    industry: str

    @property
    def credit_code(self) -> str | None:
        """Every other company is first posted with a (made-up, valid) credit code."""
        return credit_code(self.number) if self.number % 2 == 0 else None

    def base_fields(self) -> dict[str, str]:
        fields_ = {"name": f"联系人{self.number}", "mobile": base_mobile(self.number), "company_name": self.name,
                   "email": f"base{self.number}@example.cn", "wechat": f"base_wx{self.number:05d}",
                   "city": self.city, "industry": self.industry}
        return fields_ | ({"company_credit_code": self.credit_code} if self.credit_code else {})


@dataclass(frozen=True)
class Case:
    """One labelled submission: `same` links to (or merges into) company `base`'s first lead, `apart` not."""

    id: int
    subject: str  # company | person
    kind: str
    expect: str  # same | apart
    base: int
    name: str = ""
    city: str = ""
    industry: str = ""
    credit_code: str = ""
    mobile: str = ""
    email: str = ""
    wechat: str = ""

    def lead_fields(self) -> dict[str, str]:
        out = {"company_name": self.name, "city": self.city, "industry": self.industry,
               "company_credit_code": self.credit_code, "mobile": self.mobile, "email": self.email,
               "wechat": self.wechat}
        return {k: v for k, v in out.items() if v}


def credit_code(number: int) -> str:
    body = f"91440300MA{number:07d}"  # 17 characters: kind, region, then the organisation's code
    return body + uscc.calc_check_digit(body + "0")


def _grouped(code: str) -> str:
    """9144 0300 ma00 0000 0h: a code as it is read out, or copied from a licence."""
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))


def base_mobile(number: int) -> str:
    return f"1380000{number:04d}"


def case_mobile(case_id: int) -> str:
    return f"139{case_id:08d}"


@cache
def load_companies(labelled: str = "ours") -> tuple[Company, ...]:
    with (SETS[labelled] / "companies.csv").open(encoding="utf-8") as f:
        return tuple(Company(i, row["name"], row["city"], row["industry"]) for i, row in enumerate(csv.DictReader(f)))


def load_cases(labelled: str = "ours") -> list[Case]:
    with (SETS[labelled] / "cases.csv").open(encoding="utf-8") as f:
        return [Case(**{k: (int(v) if k in ("id", "base") else v) for k, v in row.items()}) for row in csv.DictReader(f)]


def write_cases(cases: list[Case]) -> None:
    with CASES_FILE.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, [field.name for field in fields(Case)], lineterminator="\n")
        writer.writeheader()
        writer.writerows(asdict(case) for case in cases)


# ---- generating the set ---------------------------------------------------------------------------

Rewrite = tuple[str, str, str, dict[str, str]]  # kind, expect, name, other fields


def generate() -> list[Case]:
    rng = random.Random(SEED)
    companies = load_companies()
    known_cores = {company_name(c.name).core for c in companies}
    cases: list[Case] = []
    for company in companies:
        for kind, expect, name, extra in _company_rewrites(company, rng, known_cores):
            case_id = len(cases)
            cases.append(Case(case_id, "company", kind, expect, company.number, name,
                              extra.get("city", company.city), extra.get("industry", company.industry),
                              extra.get("credit_code", ""), case_mobile(case_id)))
        for kind, expect, contact in _person_rewrites(company):
            cases.append(Case(len(cases), "person", kind, expect, company.number, **contact))
    by_name = {c.name: c for c in companies}
    for known, other in LOOK_ALIKES:
        case_id = len(cases)
        base = by_name[known] if known in by_name else by_name[other]
        other = other if known in by_name else known
        cases.append(Case(case_id, "company", "look-alike company", "apart", base.number, other, base.city,
                          base.industry, "", case_mobile(case_id)))
    return cases


def _company_rewrites(company: Company, rng: random.Random, known_cores: set[str]) -> Iterator[Rewrite]:
    for rewrite in (_scripts, _widths_and_spaces, _legal_forms, _regions, _slips, _core_typos):
        for kind, expect, name, extra in rewrite(company, rng):
            if expect == "apart" and company_name(name).core in known_cores - {company_name(company.name).core}:
                continue  # the look-alike is itself a company of the set: linking to it is right
            if name and name != company.name or extra:
                yield kind, expect, name, extra


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def _scripts(company: Company, rng: random.Random) -> Iterator[Rewrite]:
    traditional = _converter("s2t").convert(company.name)
    yield "traditional, spaces around", "same", f"  {traditional} ", {}
    taiwan = _converter("s2twp").convert(company.name)
    if taiwan != _converter("s2tw").convert(company.name):
        yield "taiwan wording", "same", taiwan, {}
    if company.credit_code:
        core = company_name(company.name).core
        short = f"{core[:2]}公司" if not core.isascii() else core[:5]  # 腾讯公司: the name people say
        yield "credit code, short name", "same", short, {"credit_code": _grouped(company.credit_code.lower())}
        yield "other credit code", "apart", company.name, {"credit_code": credit_code(company.number + 100_000)}


def _widths_and_spaces(company: Company, rng: random.Random) -> Iterator[Rewrite]:
    yield "full width", "same", company.name.translate(FULL_WIDTH), {}
    yield "brackets", "same", company.name.replace("(", "（").replace(")", "）"), {}
    if not company.name.isascii():
        yield "spaced characters", "same", " ".join(company.name), {}
    else:
        yield "lower case", "same", company.name.lower().replace(",", "").replace(".", ""), {}


def _legal_forms(company: Company, rng: random.Random) -> Iterator[Rewrite]:
    name = company.name
    if name.endswith("有限责任公司"):
        yield "legal form", "same", name.removesuffix("有限责任公司") + "有限公司", {}
    elif name.endswith("股份有限公司"):
        yield "legal form", "same", name.removesuffix("股份有限公司") + "有限公司", {}
    elif name.endswith("有限公司"):
        yield "legal form", "same", name.removesuffix("有限公司") + "有限责任公司", {}
    form = next((f for f in ("股份有限公司", "有限责任公司", "有限公司", "公司") if name.endswith(f)), None)
    if form and not name.isascii():
        yield "no legal form", "same", name.removesuffix(form), {}


def _region(company: Company) -> tuple[str, str] | None:
    """(the region as written, where) when the name starts with one or has one in brackets."""
    parsed = company_name(company.name)
    if not parsed.region or parsed.region == "中国":
        return None
    for suffix in ("市", "省", ""):
        if f"({parsed.region}{suffix})" in company.name:
            return f"({parsed.region}{suffix})", "brackets"
        if company.name.startswith(parsed.region + suffix):
            return parsed.region + suffix, "prefix"
    return None


def _regions(company: Company, rng: random.Random) -> Iterator[Rewrite]:
    found = _region(company)
    if not found:
        return
    written, where = found
    place = written.strip("()").removesuffix("市").removesuffix("省")
    bare = company.name.replace(written, "", 1)
    form = next((f for f in ("股份有限公司", "有限责任公司", "有限公司") if bare.endswith(f)), "")
    if where == "prefix":
        yield "region in brackets", "same", f"{bare.removesuffix(form)}({place}){form}", {}
        if not written.endswith(("市", "省")):
            yield "region with 市", "same", f"{place}市{bare}", {}
    else:
        yield "region before the name", "same", f"{place}{bare}", {}
    other = rng.choice([p for p in ("北京", "上海", "广州", "成都", "武汉", "西安") if p != place])
    yield "other region", "apart", company.name.replace(written, written.replace(place, other), 1), {}
    slipped_other = _slipped_place(other, rng)
    if slipped_other and place not in region_guesses(slipped_other):
        yield "slip in another region", "apart", \
            company.name.replace(written, written.replace(place, slipped_other), 1), {}


def _slips(company: Company, rng: random.Random) -> Iterator[Rewrite]:
    """One wrong character in the legal form, the group marker or the region."""
    name = company.name
    form = next((f for f in LEGAL_FORMS if name.endswith(f)), None)
    if form:
        at = rng.randrange(len(form))
        slipped = form[:at] + rng.choice(FORM_SLIPS[form[at]]) + form[at + 1:]
        yield "slip in legal form", "same", name.removesuffix(form) + slipped, {}
    if "集团" in name:
        slipped = rng.choice(["东团", "南团", "金团", "中团", "集因", "集图", "集园"])
        yield "slip in group marker", "same", name.replace("集团", slipped, 1), {}
    found = _region(company)
    if found:
        written, _ = found
        place = written.strip("()").removesuffix("市").removesuffix("省")
        slipped_place = _slipped_place(place, rng)
        if slipped_place:
            yield "slip in region", "same", name.replace(written, written.replace(place, slipped_place), 1), {}
        if other := _real_place_one_off(place):
            yield "a real place one character off", "apart", \
                name.replace(written, written.replace(place, other), 1), {"city": other}
    yield from _slip_in_a_place_kept_in_the_core(company, rng)


def _slip_in_a_place_kept_in_the_core(company: Company, rng: random.Random) -> Iterator[Rewrite]:
    """厦门象屿 typed 夏门象屿 by a lead from 厦门: the place before a short name stays in the core."""
    core = company_name(company.name).core
    place = core[: len(core) - len(distinctive(core))]
    if place and place in company.city + "市" and core in company.name:
        slipped = _slipped_place(place, rng)
        if slipped:
            yield "slip in a place kept in the name", "same", company.name.replace(place, slipped, 1), {}


def _slipped_place(place: str, rng: random.Random) -> str | None:
    """The place with one character wrong, not itself a place."""
    for _ in range(20):
        at = rng.randrange(len(place))
        slipped = place[:at] + rng.choice(SLIPS) + place[at + 1:]
        if slipped != place and slipped not in divisions.ALL:
            return slipped
    return None


def _real_place_one_off(place: str) -> str | None:
    """Another real place one character from this one (深州 for 深圳): another company's place."""
    return next((p for p in sorted(divisions.ALL) if len(p) == len(place) and Hamming.distance(p, place) == 1),
                None)


def _typo(core: str, rng: random.Random) -> str:
    at = rng.randrange(len(core))
    char = rng.choice([c for c in COMMON if c != core[at]])
    return core[:at] + char + core[at + 1:]


def _core_typos(company: Company, rng: random.Random) -> Iterator[Rewrite]:
    core = company_name(company.name).core
    if core.isascii() or core not in company.name:
        return
    if len(distinctive(core)) >= MIN_TYPO_CORE:  # 宜宾五粮液 is a short core: its place is no brand
        typo = company.name.replace(core, _typo(core, rng), 1)
        yield "typo in a longer core", "same", typo, {}
        yield "typo in a longer core, other city", "apart", typo, \
            {"city": rng.choice([c for c in ("北京", "上海", "深圳", "成都", "西安") if c != company.city])}
        yield "typo in a longer core, other industry", "apart", typo, \
            {"industry": rng.choice([i for i in ("餐饮", "纺织", "农业", "物业") if i != company.industry])}
    else:  # the brand, not a place kept before it (青岛啤酒: 啤酒)
        brand = distinctive(core)
        typo = core[: len(core) - len(brand)] + _typo(brand, rng)
        yield "one character off a short core", "apart", company.name.replace(core, typo, 1), {}


def _person_rewrites(company: Company) -> Iterator[tuple[str, str, dict[str, str]]]:
    mobile = base_mobile(company.number)
    spaced = f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    yield "mobile with +86 and spaces", "same", {"mobile": spaced}
    yield "mobile with 0086 and dashes", "same", {"mobile": f"0086-{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"}
    yield "mobile in full width", "same", {"mobile": mobile.translate(FULL_WIDTH)}
    yield "mobile given as WeChat", "same", {"wechat": mobile, "email": f"other{company.number}@example.org"}
    yield "e-mail in capitals with spaces", "same", {"email": f"  BASE{company.number}@Example.CN "}
    yield "WeChat in capitals", "same", {"wechat": f"BASE_WX{company.number:05d}"}
    yield "mobile one digit off", "apart", {"mobile": mobile[:3] + "5" + mobile[4:]}  # no other base's
    yield "other e-mail at the same domain", "apart", {"email": f"base{company.number}x@example.cn"}
    yield "same company, other mobile", "apart", {"name": company.name, "mobile": mobile[:3] + "6" + mobile[4:]}
