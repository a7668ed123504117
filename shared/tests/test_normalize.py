import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from leadflow_shared import normalize
from leadflow_shared.normalize import InvalidContact, company_name, deletion_variants


@pytest.mark.parametrize(
    "written", ["+86 138-0013-8000", "0086 13800138000", "13800138000", "１３８００１３８０００", "138 0013 8000",
                "+86 (138) 0013 8000", "＋８６　１３８００１３８０００"],
)
def test_every_writing_of_a_mobile_agrees(written: str) -> None:
    assert normalize.phone(written) == "+8613800138000"


@pytest.mark.parametrize("bad", ["12345", "138001380001234", "not a phone", "+86 000"])
def test_impossible_numbers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidContact) as refused:
        normalize.phone(bad)
    assert refused.value.code == "invalid_phone"


def test_emails_match_whatever_their_case_and_width() -> None:
    assert normalize.email("  Zhang.Wei@Example.CN ") == normalize.email("ｚｈａｎｇ.ｗｅｉ@example.cn") == "zhang.wei@example.cn"
    with pytest.raises(InvalidContact):
        normalize.email("zhang.wei@")


def test_a_phone_given_as_wechat_is_the_phone() -> None:
    assert normalize.wechat("Zhang_Wei88") == "zhang_wei88"
    assert normalize.wechat("138 0013 8000") == "+8613800138000"
    with pytest.raises(InvalidContact):
        normalize.wechat("1")


def test_credit_codes_are_checked_by_their_checksum() -> None:
    assert normalize.credit_code("9144030071526726XG") == "9144030071526726XG"
    assert normalize.credit_code("９１４４０３００７１５２６７２６ｘｇ") == "9144030071526726XG"
    with pytest.raises(InvalidContact):
        normalize.credit_code("91110108MA01KHUX4X")


@pytest.mark.parametrize(
    "written",
    ["上海示例科技有限公司", "示例科技(上海)有限公司", "示例科技（上海）有限公司", "上海市示例科技有限公司",
     "上海示例科技有限責任公司", "上海 示例科技 有限公司"],
)
def test_legal_forms_regions_scripts_and_widths_fold_into_one_name(written: str) -> None:
    name = company_name(written)
    assert (name.core, name.region) == ("示例科技", "上海")


def test_traditional_and_simplified_company_names_agree() -> None:
    assert company_name("華為技術有限公司") == company_name("华为技术有限公司")
    assert company_name("阿里巴巴(中國)網絡技術有限公司").core == company_name("阿里巴巴网络技术有限公司").core


def test_group_and_joint_stock_forms_fold() -> None:
    assert company_name("中国平安保险(集团)股份有限公司").core == company_name("中国平安保险股份有限公司").core


def test_english_legal_forms_fold() -> None:
    a = company_name("Tencent Technology (Shenzhen) Co., Ltd.")
    b = company_name("TENCENT TECHNOLOGY SHENZHEN COMPANY LIMITED")
    assert a.core == b.core == "tencenttechnologyshenzhen"


def test_a_region_alone_does_not_make_a_name_generic() -> None:
    assert company_name("上海银行").core == "上海银行"  # not 银行


def test_one_typo_apart_names_share_a_deletion_variant() -> None:
    assert set(deletion_variants("腾讯计算机系统")) & set(deletion_variants("腾讯计算机系通"))
    assert not set(deletion_variants("腾讯计算机系统")) & set(deletion_variants("百度在线网络技术"))


text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(text)
def test_folding_is_idempotent(value: str) -> None:
    once = normalize.fold(value)
    assert normalize.fold(once) == once


@given(text)
def test_company_names_are_idempotent(value: str) -> None:
    canonical = company_name(value).canonical
    assert company_name(canonical).canonical == canonical


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_phone_normal_forms_are_idempotent(mobile: str) -> None:
    try:
        once = normalize.phone(mobile)
    except InvalidContact:
        return
    assert normalize.phone(once) == once


@given(st.emails())
def test_email_normal_forms_are_idempotent(address: str) -> None:
    try:
        once = normalize.email(address)
    except InvalidContact:
        return
    assert normalize.email(once) == once


chinese_company = st.builds(
    lambda region, brand, legal, paren: (f"({region}){brand}{legal}" if paren else f"{region}{brand}{legal}"),
    st.sampled_from(["", "上海", "北京市", "深圳", "中国", "香港特别行政区"]),
    st.text(alphabet=st.sampled_from("示例科技華為網絡信息集团股份有限公司ABC（）() 　·"), min_size=1, max_size=12),
    st.sampled_from(["", "有限公司", "有限责任公司", "股份有限公司", "(集团)有限公司", " Co., Ltd.", "集团"]),
    st.booleans(),
)


@given(chinese_company)
def test_chinese_company_names_are_idempotent(value: str) -> None:
    canonical = company_name(value).canonical
    assert company_name(canonical).canonical == canonical


def _read_by_phonenumbers(written: str) -> str | None:
    """What normalize.phone made of a number before its shortcut: E.164 if valid, else refused."""
    try:
        parsed = phonenumbers.parse(written, "CN")
    except phonenumbers.NumberParseException:  # 1100…, 11808…: China's carrier prefixes, then nothing valid
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) \
        if phonenumbers.is_valid_number(parsed) else None


@example("11000002100")
@example("11000002110")
@given(st.from_regex(r"(\+86)?1[0-9]{10}", fullmatch=True))
def test_a_plainly_written_mobile_is_read_as_phonenumbers_reads_it(written: str) -> None:
    """The shortcut for 13800138000 and +8613800138000 agrees with phonenumbers on every number."""
    expected = _read_by_phonenumbers(written)
    try:
        assert normalize.phone(written) == expected
    except InvalidContact:
        assert expected is None


@pytest.mark.parametrize(("written", "meant"), [
    ("宁德时代新能源科技金份有限公司", "宁德时代新能源科技股份有限公司"), ("示例科技中份有限公司", "示例科技股份有限公司"),
    ("示例科技股分有限公司", "示例科技股份有限公司"), ("示例科技有限公可", "示例科技有限公司"),
    ("示例科技有限工司", "示例科技有限公司"), ("海尔集团工司", "海尔集团公司"),
    ("美的东团股份有限公司", "美的集团股份有限公司"), ("海尔南团公司", "海尔集团公司"),
    ("中国平安保险(东团)股份有限公司", "中国平安保险(集团)股份有限公司"),
])
def test_a_legal_form_or_group_marker_with_one_wrong_character_is_read_as_meant(written: str, meant: str) -> None:
    assert company_name(meant).core in {r.core for r in normalize.company_readings(written)}


@pytest.mark.parametrize(("written", "core", "place"), [
    ("深中市大疆创新科技有限公司", "大疆创新科技", "深圳"), ("深北市大疆创新科技有限公司", "大疆创新科技", "深圳"),
    ("腾讯科技(北圳)有限公司", "腾讯科技", "深圳"), ("河东示例科技有限公司", "示例科技", "河北"),
])
def test_a_region_with_one_wrong_character_is_read_as_the_places_it_may_mean(written: str, core: str,
                                                                             place: str) -> None:
    assert any(r.core == core and place in r.region_guesses for r in normalize.company_readings(written))


def test_a_real_place_and_a_plain_name_have_no_other_reading() -> None:
    assert normalize.company_readings("东方市示例科技有限公司") == ()  # 东方 is a city, not a slipped 东莞
    assert normalize.company_readings("上海示例科技有限公司") == ()
    assert normalize.company_readings("北京交响乐团有限公司") == ()  # 乐团 is no slipped 集团


def test_taiwan_wording_is_read_with_the_mainlands_words() -> None:
    cores = {r.core for r in normalize.company_readings("上海拉扎斯資訊科技有限公司")}
    assert "拉扎斯信息科技" in cores


@given(text)
def test_every_name_can_be_read_tolerantly(value: str) -> None:
    assert all(r.core for r in normalize.company_readings(value))
