import uuid

from leadflow_intake.domain.matching import CompanyCandidate, Whereabouts, link_company
from leadflow_shared.normalize import company_name, company_readings

A, B = uuid.uuid4(), uuid.uuid4()


NOWHERE = Whereabouts()


def known(name: str, code: str | None = None, city: str | None = None, id_: uuid.UUID = A,
          industry: str | None = None) -> CompanyCandidate:
    parsed = company_name(name)
    return CompanyCandidate(id_, parsed.core, parsed.region, code, city, industry)


def link_name(name: str, where: Whereabouts, candidates: list[CompanyCandidate]):  # type: ignore[no-untyped-def]
    """As intake links a lead with this company name and no credit code."""
    return link_company(company_name(name), None, where, candidates, company_readings(name))


def test_a_credit_code_decides_whatever_the_name() -> None:
    link = link_company(company_name("完全不同的名字"), "9144030071526726XG", NOWHERE,
                        [known("腾讯计算机系统有限公司", "9144030071526726XG")])
    assert link and link.company_id == A and link.rule == "credit_code"


def test_two_credit_codes_are_two_companies_however_alike_their_names() -> None:
    assert link_company(company_name("示例科技有限公司"), "91110108MA01KHUX4Y", NOWHERE,
                        [known("示例科技有限公司", "9144030071526726XG")]) is None


def test_the_same_name_written_otherwise_links() -> None:
    link = link_company(company_name("示例科技（上海）有限公司"), None, NOWHERE, [known("上海示例科技有限公司")])
    assert link and link.rule == "same_name"


def test_the_same_brand_in_two_cities_is_two_companies() -> None:
    assert link_company(company_name("示例科技(北京)有限公司"), None, NOWHERE, [known("上海示例科技有限公司")]) is None


def test_one_typo_in_a_long_name_links_in_the_same_city() -> None:
    link = link_company(company_name("深圳市腾讯计算机系通有限公司"), None, Whereabouts("深圳市"),
                        [known("深圳市腾讯计算机系统有限公司", city="深圳")])
    assert link and link.rule == "typo"


def test_one_character_apart_short_brands_are_different_companies() -> None:
    assert link_company(company_name("小马科技有限公司"), None, NOWHERE, [known("小米科技有限公司")]) is None
    assert link_company(company_name("华信达科技有限公司"), None, NOWHERE, [known("华信通科技有限公司")]) is None


def test_a_typo_is_not_trusted_across_cities() -> None:
    assert link_company(company_name("腾讯计算机系通有限公司"), None, Whereabouts("北京"),
                        [known("腾讯计算机系统有限公司", city="深圳")]) is None


def test_latin_spellings_close_enough_link() -> None:
    link = link_company(company_name("Tencent Technolgy Shenzhen Co Ltd"), None, NOWHERE,
                        [known("Tencent Technology (Shenzhen) Co., Ltd.")])
    assert link and link.rule == "similar_name"


def test_the_best_rule_wins() -> None:
    exact = known("深圳市腾讯计算机系统有限公司", id_=B)
    typo = known("深圳市腾讯计算机系通有限公司", id_=A)
    link = link_company(company_name("腾讯计算机系统(深圳)有限公司"), None, NOWHERE, [typo, exact])
    assert link and link.company_id == B


def test_a_five_character_core_one_typo_apart_links_only_within_one_known_city() -> None:
    company = [known("华信通科技有限公司", city="杭州")]
    assert link_name("华信达科技有限公司", Whereabouts("杭州"), company)
    assert link_name("华信达科技有限公司", NOWHERE, company) is None
    assert link_name("华信达科技有限公司", Whereabouts("宁波"), company) is None


def test_a_typo_is_not_trusted_across_industries() -> None:
    company = [known("深圳市腾讯计算机系统有限公司", city="深圳", industry="互联网")]
    assert link_name("深圳市腾讯计算机系通有限公司", Whereabouts("深圳", "互联网"), company)
    assert link_name("深圳市腾讯计算机系通有限公司", Whereabouts("深圳", "餐饮"), company) is None


def test_a_slipped_legal_form_or_group_marker_links_to_the_same_name() -> None:
    for written, meant in [("宁德时代新能源科技金份有限公司", "宁德时代新能源科技股份有限公司"),
                           ("美的东团股份有限公司", "美的集团股份有限公司"), ("海尔南团公司", "海尔集团公司"),
                           ("示例科技有限公可", "示例科技有限公司")]:
        link = link_name(written, NOWHERE, [known(meant)])
        assert link and link.rule == "slip", written


def test_a_slipped_region_links_only_to_a_company_of_a_place_it_may_mean() -> None:
    shenzhen = [known("深圳市大疆创新科技有限公司", city="深圳")]
    assert link_name("深中市大疆创新科技有限公司", NOWHERE, shenzhen)
    assert link_name("大疆创新科技(北圳)有限公司", NOWHERE, shenzhen)
    hebei = [known("河北示例科技有限公司")]
    assert link_name("河东示例科技有限公司", NOWHERE, hebei)  # 河东 is one character from 河北
    assert link_name("河东示例科技有限公司", NOWHERE, [known("浙江示例科技有限公司")]) is None
    assert link_name("河东示例科技有限公司", NOWHERE, [known("示例科技有限公司")]) is None  # no place to go by


def test_a_real_place_is_no_slip() -> None:
    assert link_name("东方市示例科技有限公司", NOWHERE, [known("东莞市示例科技有限公司")]) is None


def test_a_slip_that_could_mean_two_known_companies_links_to_neither() -> None:
    hebei = known("河北示例科技集团有限公司", id_=A)
    assert link_name("河东示例科技集团有限公司", NOWHERE, [hebei])
    assert link_name("河东示例科技集团有限公司", NOWHERE, [hebei, known("山东示例科技集团有限公司", id_=B)]) is None


def test_a_place_one_character_off_before_a_short_name_is_read_only_where_the_lead_is() -> None:
    qingdao = [known("青岛啤酒股份有限公司", city="青岛")]
    assert link_name("青德啤酒股份有限公司", NOWHERE, qingdao) is None  # a short core one character off
    assert link_name("青德啤酒股份有限公司", Whereabouts("上海"), qingdao) is None
    assert link_name("青德啤酒股份有限公司", Whereabouts("青岛市"), qingdao)  # the lead says where it is
    assert link_name("何北建设集团有限公司", Whereabouts("保定"), [known("河北建设集团有限公司", city="保定")])


def test_a_real_county_level_city_is_no_slip_and_a_region_slip_needs_the_leads_city_to_agree() -> None:
    shenzhen = [known("深圳市宏瑞达电子科技有限公司", city="深圳")]
    assert link_name("深州市宏瑞达电子科技有限公司", Whereabouts("衡水"), shenzhen) is None  # 深州 is a city
    assert link_name("深中市宏瑞达电子科技有限公司", Whereabouts("衡水"), shenzhen) is None
    assert link_name("深中市宏瑞达电子科技有限公司", Whereabouts("深圳"), shenzhen)


def test_a_place_kept_in_a_short_core_does_not_make_it_long() -> None:
    zhaochi = [known("深圳市兆驰股份有限公司", city="深圳")]  # the core is 深圳市兆驰: the brand is two characters
    assert link_name("深圳市兆业股份有限公司", Whereabouts("深圳"), zhaochi) is None
    longteng = [known("昆山龙腾光电股份有限公司", city="苏州")]
    assert link_name("昆山龙华光电股份有限公司", Whereabouts("苏州"), longteng) is None


def test_the_second_character_of_a_group_marker_may_slip_too() -> None:
    link = link_name("大连万达集园有限公司", NOWHERE, [known("大连万达集团有限公司")])
    assert link and link.rule == "slip"
    assert link_name("示例系统集成有限公司", NOWHERE, [known("示例系统有限公司")]) is None  # 集成 is a word


def test_a_region_before_a_short_name_must_be_where_the_company_is() -> None:
    assert link_name("北京联想有限公司", NOWHERE, [known("联想(北京)有限公司")])
    assert link_name("上海联想有限公司", NOWHERE, [known("联想(北京)有限公司")]) is None
    assert link_name("上海联想有限公司", NOWHERE, [known("联想集团有限公司")]) is None


def test_a_place_mistyped_into_another_real_place_is_another_company() -> None:
    kunshan = [known("纬创资通(昆山)有限公司", city="昆山")]  # 昆山 is no region the parser strips: it stays in the core
    assert link_name("纬创资通(黄山)有限公司", Whereabouts("昆山"), kunshan) is None
