"""Dedupe quality on a corpus of real Chinese company names and the ways partners actually write them.

Each query is a rewriting of a known company (scripts, full width, legal forms, region written as a prefix
or in brackets, spacing and punctuation, one typo) or a different company that merely looks alike (another
region's entity, a brand one character off that is itself in the base). Matching runs as intake runs it:
candidates from the same index keys (exact core, one-typo deletion variants), then `link_company`.
The issue aims at precision ≥ 0.98 and recall ≥ 0.95; this corpus is ours, not the hidden one.
"""

from __future__ import annotations

import uuid

import opencc
import pytest

from leadflow_intake.domain.matching import CompanyCandidate, link_company
from leadflow_intake.handlers import CompanyIndex
from leadflow_shared import normalize
from leadflow_shared.normalize import company_name

# Real companies (names as registered), with the city they are registered in.
BASE = [
    ("阿里巴巴(中国)网络技术有限公司", "杭州"), ("腾讯科技(深圳)有限公司", "深圳"), ("北京字节跳动科技有限公司", "北京"),
    ("华为技术有限公司", "深圳"), ("小米科技有限责任公司", "北京"), ("网易(杭州)网络有限公司", "杭州"),
    ("上海拉扎斯信息科技有限公司", "上海"), ("北京京东世纪贸易有限公司", "北京"), ("百度在线网络技术(北京)有限公司", "北京"),
    ("美团科技有限公司", "北京"), ("北京三快在线科技有限公司", "北京"), ("上海寻梦信息技术有限公司", "上海"),
    ("携程计算机技术(上海)有限公司", "上海"), ("深圳市大疆创新科技有限公司", "深圳"), ("宁德时代新能源科技股份有限公司", "宁德"),
    ("比亚迪股份有限公司", "深圳"), ("海尔集团公司", "青岛"), ("珠海格力电器股份有限公司", "珠海"),
    ("美的集团股份有限公司", "佛山"), ("中国平安保险(集团)股份有限公司", "深圳"), ("招商银行股份有限公司", "深圳"),
    ("科大讯飞股份有限公司", "合肥"), ("用友网络科技股份有限公司", "北京"), ("金蝶软件(中国)有限公司", "深圳"),
    ("浪潮电子信息产业股份有限公司", "济南"), ("海康威视数字技术股份有限公司", "杭州"), ("浙江大华技术股份有限公司", "杭州"),
    ("顺丰速运有限公司", "深圳"), ("上海钧正网络科技有限公司", "上海"), ("北京快手科技有限公司", "北京"),
    ("上海哔哩哔哩科技有限公司", "上海"), ("北京搜狗科技发展有限公司", "北京"), ("深圳迈瑞生物医疗电子股份有限公司", "深圳"),
    ("江苏恒瑞医药股份有限公司", "连云港"), ("三一重工股份有限公司", "长沙"), ("中联重科股份有限公司", "长沙"),
    ("歌尔股份有限公司", "潍坊"), ("立讯精密工业股份有限公司", "东莞"), ("蔚来汽车(安徽)有限公司", "合肥"),
    ("广州小鹏汽车科技有限公司", "广州"), ("北京车和家信息技术有限公司", "北京"), ("东方财富信息股份有限公司", "上海"),
    ("同花顺网络信息股份有限公司", "杭州"), ("上海米哈游网络科技股份有限公司", "上海"), ("杭州有赞科技有限公司", "杭州"),
    ("北京金山办公软件股份有限公司", "北京"), ("深信服科技股份有限公司", "深圳"), ("奇安信科技集团股份有限公司", "北京"),
    ("Huawei Technologies Co., Ltd.", "深圳"), ("Lenovo Group Limited", "北京"),
    # look-alikes that are real, different companies: they must never be merged with the ones above
    ("网易(北京)网络有限公司", "北京"), ("腾讯科技(北京)有限公司", "北京"), ("华为终端有限公司", "东莞"),
    ("小米通讯技术有限公司", "北京"), ("美团点评科技有限公司", "上海"),
]

_s2t = opencc.OpenCC("s2t")
FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


def _variants(name: str) -> list[tuple[str, str]]:
    """(how, rewritten name) as partners send them; every one is the same registered company."""
    out = [("traditional", _s2t.convert(name)), ("full width", name.translate(FULL_WIDTH)),
           ("brackets", name.replace("(", "（").replace(")", "）"))]
    if not name.isascii():
        out.append(("spaces", " ".join(name)))
    if name.endswith("有限责任公司"):
        out.append(("legal form", name.removesuffix("有限责任公司") + "有限公司"))
    elif name.endswith("股份有限公司"):
        out.append(("legal form", name.removesuffix("股份有限公司") + "有限公司"))
    elif name.endswith("有限公司"):
        out.append(("no legal form", name.removesuffix("有限公司")))
    if name.endswith("Co., Ltd."):
        out += [("latin legal form", name.replace("Co., Ltd.", "Co Ltd")), ("lower case", name.lower())]
    core = company_name(name).core
    if len(core) >= normalize.MIN_TYPO_CORE and not core.isascii():
        typo_at = len(core) // 2
        out.append(("one typo", name.replace(core[typo_at], "x" if core[typo_at] != "x" else "y", 1)))
    return out


def _index(base: list[tuple[str, str]]) -> tuple[CompanyIndex, dict[str, uuid.UUID]]:
    ids = {name: uuid.uuid4() for name, _ in base}
    parsed = [(name, city, company_name(name)) for name, city in base]
    candidates = [CompanyCandidate(ids[name], p.core, p.region, None, city) for name, city, p in parsed]
    return CompanyIndex(candidates, {}), ids


def _evaluate() -> tuple[int, int, int, list[str]]:
    """(queries that should link, correct links, wrong links, the misses and mistakes)."""
    index, ids = _index(BASE)
    should = correct = wrong = 0
    notes = []
    for name, city in BASE:
        for how, variant in _variants(name):
            should += 1
            parsed = company_name(variant)
            link = link_company(parsed, None, city, index.near(parsed, None))
            if link and link.company_id == ids[name]:
                correct += 1
            elif link:
                wrong += 1
                notes.append(f"WRONG {how}: {variant!r} linked to another company")
            else:
                notes.append(f"missed {how}: {variant!r}")
    return should, correct, wrong, notes


def test_company_links_are_precise_and_find_the_rewritings() -> None:
    should, correct, wrong, notes = _evaluate()
    precision = correct / max(1, correct + wrong)
    recall = correct / should
    print(f"\ncompany links on {should} rewritings of {len(BASE)} companies: precision {precision:.3f}, "
          f"recall {recall:.3f}\n" + "\n".join(notes))
    assert precision >= 0.98, notes
    assert recall >= 0.95, notes


@pytest.mark.parametrize(("a", "b"), [
    ("网易(杭州)网络有限公司", "网易(北京)网络有限公司"), ("腾讯科技(深圳)有限公司", "腾讯科技(北京)有限公司"),
    ("华为技术有限公司", "华为终端有限公司"), ("美团科技有限公司", "美团点评科技有限公司"),
])
def test_look_alike_companies_are_never_linked(a: str, b: str) -> None:
    index, ids = _index([(a, "北京")])
    parsed = company_name(b)
    assert link_company(parsed, None, "北京", index.near(parsed, None)) is None


PEOPLE = [
    ("+86 138-0013-8000", "13800138000"), ("0086 13800138000", "+8613800138000"), ("１３８００１３８０００", "138 0013 8000"),
    ("+86 (138) 0013 8000", "86-138-0013-8000"),
]


@pytest.mark.parametrize(("a", "b"), PEOPLE)
def test_one_person_written_many_ways_is_one_person(a: str, b: str) -> None:
    assert normalize.phone(a) == normalize.phone(b)


def test_e_mail_and_wechat_spellings_agree() -> None:
    assert normalize.email(" Zhang.Wei@Example.CN ") == normalize.email("zhang.wei@example.cn")
    assert normalize.wechat("ZhangWei_88") == normalize.wechat("zhangwei_88")
    assert normalize.phone("13800138000") != normalize.phone("13800138001")
