"""The company registry enrichment reads (客商系统). A provider interface: the built-in one is a table
loaded from CSV (`leadflow registry load FILE.csv`); a company-data API can stand in for it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_scoring.db import RegistryRepository
from leadflow_scoring.domain.enrichment import RegistryCompany, employees_from_size
from leadflow_scoring.domain.rules import to_number
from leadflow_shared.normalize import InvalidContact, company_name, credit_code


class CompanyRegistry(Protocol):
    """Finds companies by credit code or canonical name, for a batch of leads at once."""

    async def find(self, session: AsyncSession, codes: Sequence[str], canonicals: Sequence[str]
                   ) -> list[RegistryCompany]: ...


class TableRegistry:
    """The registry kept in scoring's own `registry_companies` table."""

    async def find(self, session: AsyncSession, codes: Sequence[str], canonicals: Sequence[str]
                   ) -> list[RegistryCompany]:
        rows = await RegistryRepository(session).find(codes, canonicals)
        return [RegistryCompany(
            name=r["name"], canonical=r["canonical"], source=r["source"], credit_code=r["credit_code"],
            industry=r["industry"], size=r["size"], employees=r["employees"],
            registered_capital=r["registered_capital"], province=r["province"], city=r["city"],
            founded=r["founded"], status=r["status"], registry_id=str(r["id"]),
        ) for r in rows]


# CSV headers, English or Chinese, → registry fields.
HEADERS = {
    "name": "name", "company_name": "name", "企业名称": "name", "公司名称": "name", "名称": "name",
    "credit_code": "credit_code", "统一社会信用代码": "credit_code", "信用代码": "credit_code",
    "industry": "industry", "行业": "industry", "所属行业": "industry",
    "size": "size", "规模": "size", "人员规模": "size", "企业规模": "size",
    "employees": "employees", "员工人数": "employees", "参保人数": "employees",
    "registered_capital": "registered_capital", "注册资本": "registered_capital",
    "province": "province", "省份": "province", "所属省份": "province",
    "city": "city", "城市": "city", "所属城市": "city",
    "founded": "founded", "成立日期": "founded", "成立时间": "founded",
    "status": "status", "经营状态": "status", "登记状态": "status",
}


@dataclass
class ParsedRegistry:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def read_registry_csv(content: bytes, source: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, registry row or the reason it was refused), row by row."""
    text = _decode(content)
    reader = csv.DictReader(io.StringIO(text))
    unknown = [h for h in reader.fieldnames or [] if h.strip() not in HEADERS]
    mapped = {h: HEADERS[h.strip()] for h in reader.fieldnames or [] if h.strip() in HEADERS}
    if "name" not in mapped.values():
        raise ValueError(f"no company name column (name / 企业名称); columns: {reader.fieldnames}; "
                         f"not understood: {unknown}")
    for line, raw in enumerate(reader, start=2):
        values: dict[str, str] = {}
        for header, value in raw.items():  # two columns for one field (企业名称, 公司名称): the first filled
            if header in mapped and (value or "").strip() and mapped[header] not in values:
                values[mapped[header]] = (value or "").strip()
        yield line, _registry_row(values, source)


def _decode(content: bytes) -> str:
    """UTF-8, else GB18030 (what Excel in China saves CSV as)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return content.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ValueError("the file is neither UTF-8 nor GB18030 text") from exc


def _registry_row(values: dict[str, str], source: str) -> dict[str, Any] | str:
    name = values.get("name")
    if not name:
        return "company name is empty"
    code = None
    if values.get("credit_code"):
        try:
            code = credit_code(values["credit_code"])
        except InvalidContact:
            return f"invalid credit code {values['credit_code']!r} (统一社会信用代码 checksum)"
    founded = _date(values.get("founded"))
    if values.get("founded") and founded is None:
        return f"founded {values['founded']!r} is not a date (2016-03-01, 2016/3/1, 2016年3月1日)"
    capital = _capital(values.get("registered_capital"))
    employees = to_number(values["employees"]) if values.get("employees") else None
    if employees is not None and not 0 <= employees < 10_000_000:
        return f"employees {values['employees']!r} is not a head count"
    too_long = next((f for f, limit in _LIMITS.items() if len(values.get(f) or "") > limit), None)
    if too_long:
        return f"{too_long} is longer than {_LIMITS[too_long]} characters"
    return {
        "credit_code": code, "name": name, "canonical": company_name(name).canonical,
        "industry": values.get("industry") or None, "size": values.get("size") or None,
        "employees": int(employees) if employees is not None else employees_from_size(values.get("size")),
        "registered_capital": capital, "province": values.get("province") or None,
        "city": values.get("city") or None, "founded": founded, "status": values.get("status") or None,
        "source": source,
    }


_LIMITS = {"name": 300, "industry": 100, "size": 50, "province": 50, "city": 100, "status": 30}
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")


def _date(text: str | None) -> date | None:
    match = _DATE.match(text or "")
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def _capital(text: str | None) -> float | None:
    """Registered capital in CNY from "5000万元人民币", "1.2亿", "3000000" (foreign currencies are kept as
    written amounts: registries list few of them, and a rule on capital is a rough size test)."""
    if not text:
        return None
    amount = to_number(re.sub(r"(人民币|美元|港元|元|RMB|CNY|USD|[()（）\s])", "", text, flags=re.IGNORECASE))
    return amount if amount is not None and amount >= 0 else None
