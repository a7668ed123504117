"""Reading a registry CSV (客商系统): headers in Chinese or English, GB18030 files, refused rows with reasons."""

from datetime import date

import pytest

from leadflow_scoring.domain.enrichment import Candidates, RegistryCompany, employees_from_size, enrich
from leadflow_scoring.registry import _capital, read_registry_csv

CSV = ("企业名称,统一社会信用代码,所属行业,人员规模,注册资本,成立日期,经营状态\n"
       "杭州云栖示例软件有限公司,91330106MA2GL1RQ4X,软件和信息技术服务业,500-999人,5000万元人民币,2016年3月1日,存续\n"
       "坏代码有限公司,91330106MA2GL1RQ4Y,,,,,\n"
       ",,,,,,\n"
       "日期不对有限公司,,,,,2016-13-45,\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_registry_csv_is_read_row_by_row_with_reasons_for_refusals(encoding: str) -> None:
    rows = list(read_registry_csv(CSV.encode(encoding), "qcc"))
    first = rows[0][1]
    assert isinstance(first, dict)
    assert (first["credit_code"], first["employees"], first["registered_capital"], first["founded"]) == (
        "91330106MA2GL1RQ4X", 500, 50_000_000.0, date(2016, 3, 1))
    assert [(line, "credit code" in r) for line, r in rows[1:2]] == [(3, True)]
    assert rows[2] == (4, "company name is empty")
    assert "not a date" in rows[3][1]


def test_a_file_without_a_name_column_is_refused_whole() -> None:
    with pytest.raises(ValueError, match="no company name column"):
        list(read_registry_csv(b"foo,bar\n1,2\n", "x"))


@pytest.mark.parametrize(("text", "cny"), [("5000万元人民币", 5e7), ("1.2亿", 1.2e8), ("3000000", 3e6), ("-5万", None),
                                          ("", None)])
def test_registered_capital_is_read_in_cny(text: str, cny: float | None) -> None:
    assert _capital(text) == cny


def test_head_count_bands_give_their_lower_bound() -> None:
    assert [employees_from_size(s) for s in ("100-499人", "500人以上", "少于50人", None)] == [100, 500, 0, None]


def test_the_registry_fills_only_blanks_and_matches_by_code_before_name() -> None:
    acme = RegistryCompany(name="示例科技有限公司", canonical="示例科技有限公司", source="qcc", credit_code="C1",
                           industry="制造业", city="杭州", founded=date(2010, 1, 1))
    other = RegistryCompany(name="示例科技有限公司", canonical="示例科技有限公司", source="qcc", credit_code="C2")
    assert Candidates.of([acme, other]).match("C2", "示例科技有限公司").company is other  # type: ignore[union-attr]
    assert Candidates.of([acme, other]).match(None, "示例科技有限公司") is None  # two of that name: no guess
    lead, record = enrich({"city": "上海"}, Candidates.of([acme]).match("C1", None))
    assert lead["city"] == "上海" and lead["industry"] == "制造业" and lead["founded"] == "2010-01-01"
    assert record is not None and record["matched_by"] == "credit_code" and "city" not in record["filled"]
