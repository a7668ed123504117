import uuid

from leadflow_intake.domain.matching import CompanyCandidate, link_company
from leadflow_shared.normalize import company_name

A, B = uuid.uuid4(), uuid.uuid4()


def known(name: str, code: str | None = None, city: str | None = None, id_: uuid.UUID = A) -> CompanyCandidate:
    parsed = company_name(name)
    return CompanyCandidate(id_, parsed.core, parsed.region, code, city)


def test_a_credit_code_decides_whatever_the_name() -> None:
    link = link_company(company_name("完全不同的名字"), "9144030071526726XG", None,
                        [known("腾讯计算机系统有限公司", "9144030071526726XG")])
    assert link and link.company_id == A and link.rule == "credit_code"


def test_two_credit_codes_are_two_companies_however_alike_their_names() -> None:
    assert link_company(company_name("示例科技有限公司"), "91110108MA01KHUX4Y", None,
                        [known("示例科技有限公司", "9144030071526726XG")]) is None


def test_the_same_name_written_otherwise_links() -> None:
    link = link_company(company_name("示例科技（上海）有限公司"), None, None, [known("上海示例科技有限公司")])
    assert link and link.rule == "same_name"


def test_the_same_brand_in_two_cities_is_two_companies() -> None:
    assert link_company(company_name("示例科技(北京)有限公司"), None, None, [known("上海示例科技有限公司")]) is None


def test_one_typo_in_a_long_name_links_in_the_same_city() -> None:
    link = link_company(company_name("深圳市腾讯计算机系通有限公司"), None, "深圳",
                        [known("深圳市腾讯计算机系统有限公司", city="深圳")])
    assert link and link.rule == "typo"


def test_one_character_apart_short_brands_are_different_companies() -> None:
    assert link_company(company_name("小马科技有限公司"), None, None, [known("小米科技有限公司")]) is None
    assert link_company(company_name("华信达科技有限公司"), None, None, [known("华信通科技有限公司")]) is None


def test_a_typo_is_not_trusted_across_cities() -> None:
    assert link_company(company_name("腾讯计算机系通有限公司"), None, "北京",
                        [known("腾讯计算机系统有限公司", city="深圳")]) is None


def test_latin_spellings_close_enough_link() -> None:
    link = link_company(company_name("Tencent Technolgy Shenzhen Co Ltd"), None, None,
                        [known("Tencent Technology (Shenzhen) Co., Ltd.")])
    assert link and link.rule == "similar_name"


def test_the_best_rule_wins() -> None:
    exact = known("深圳市腾讯计算机系统有限公司", id_=B)
    typo = known("深圳市腾讯计算机系通有限公司", id_=A)
    link = link_company(company_name("腾讯计算机系统(深圳)有限公司"), None, None, [typo, exact])
    assert link and link.company_id == B
