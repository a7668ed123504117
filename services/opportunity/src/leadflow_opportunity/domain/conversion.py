"""Converting a lead (线索转商机): what a rep tells about the customer, the contact and the opportunity, and
how the customer and the contact are told apart from those already known.

A customer is a company (B2B), one per credit code or normalized name and region, or a person (B2C), one
per mobile. A lead whose customer exists merges into it (线索对应的客户已存在则合并). A contact is a person at
the customer, the same one when a mobile, WeChat id or e-mail matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leadflow_opportunity.domain.model import Refusal
from leadflow_shared import normalize


class CustomerKind(StrEnum):
    company = "company"  # B2B
    person = "person"  # B2C


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerInput(_Input):
    """Empty fields are taken from the lead."""

    name: str | None = Field(None, max_length=200, description="The company (B2B) or the person (B2C).")
    credit_code: str | None = Field(None, max_length=40, description="统一社会信用代码 (B2B).")
    mobile: str | None = Field(None, max_length=40, description="The person's mobile (B2C).")
    province: str | None = Field(None, max_length=50)
    city: str | None = Field(None, max_length=50)
    industry: str | None = Field(None, max_length=100)


class ContactInput(_Input):
    """Empty fields are taken from the lead."""

    name: str | None = Field(None, max_length=100)
    title: str | None = Field(None, max_length=100)
    mobile: str | None = Field(None, max_length=40)
    wechat: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=200)


class OpportunityInput(_Input):
    name: str = Field(min_length=1, max_length=200)
    amount: float = Field(ge=0, le=1e12, description="Expected deal value.")
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$", description="ISO 4217.")
    expected_close: date | None = None
    product_line: str | None = Field(None, max_length=100)
    stage: str | None = Field(None, max_length=50, description="The first stage (default: the pipeline's first).")


class ConvertRequest(_Input):
    customer: CustomerInput = CustomerInput()
    contact: ContactInput = ContactInput()
    opportunity: OpportunityInput


@dataclass(frozen=True)
class CustomerIdentity:
    """How a customer is found again: the keys that make two conversions one customer."""

    kind: CustomerKind
    name: str
    credit_code: str | None = None
    name_key: str | None = None
    read_as: tuple[str, ...] = ()  # the name's keys read through a slip (东团 for 集团): found, never made
    mobile: str | None = None
    province: str | None = None
    city: str | None = None
    industry: str | None = None

    def lock_keys(self) -> list[str]:
        keys = [f"customer:credit:{self.credit_code}" if self.credit_code else None,
                f"customer:name:{self.name_key}" if self.name_key else None,
                f"customer:mobile:{self.mobile}" if self.mobile else None]
        return [k for k in keys if k]


@dataclass(frozen=True)
class Contact:
    name: str | None
    title: str | None
    mobile: str | None
    wechat: str | None
    email: str | None

    def values(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "mobile": self.mobile, "wechat": self.wechat,
                "email": self.email}


def name_key(company: str) -> str:
    """One key for every writing of a company's name in one region: 上海示例科技有限公司 and 示例科技(上海)有限公司
    are one company; 示例科技(北京) another. The legal form does not count."""
    name = normalize.company_name(company)
    return f"{name.core}|{name.region or ''}"


def read_as_keys(company: str) -> tuple[str, ...]:
    """The keys of the name read through one slip in its legal form or group marker, or in Taiwan's wording
    (美的东团股份有限公司 is 美的集团's): a customer already known by one of them is this customer. A slipped
    region is left alone here: its place is a guess, and a key holds one place."""
    return tuple(f"{r.core}|{r.region or ''}" for r in normalize.company_readings(company) if not r.region_guesses)


def customer_identity(kind: CustomerKind, given: CustomerInput, lead: dict[str, Any]) -> CustomerIdentity | Refusal:
    if kind == CustomerKind.company:
        return _company(given, lead)
    return _person(given, lead)


def _company(given: CustomerInput, lead: dict[str, Any]) -> CustomerIdentity | Refusal:
    name = given.name or lead.get("company_name")
    if not name:
        return Refusal(422, "company_required", "a B2B customer needs the company's name (customer.name)",
                       "B2B 客户须填写公司名称（customer.name）")
    code = given.credit_code or lead.get("company_credit_code")
    if code:
        try:
            code = normalize.credit_code(code)
        except normalize.InvalidContact as exc:
            return Refusal(422, "bad_credit_code", f"customer.credit_code: {exc}", "统一社会信用代码无效")
    return CustomerIdentity(CustomerKind.company, name, credit_code=code, name_key=name_key(name),
                            read_as=read_as_keys(name),
                            **_place(given, lead))


def _person(given: CustomerInput, lead: dict[str, Any]) -> CustomerIdentity | Refusal:
    mobile = given.mobile or lead.get("mobile")
    if not mobile:
        return Refusal(422, "mobile_required", "a B2C customer needs the person's mobile (customer.mobile)",
                       "B2C 客户须填写手机号（customer.mobile）")
    try:
        mobile = normalize.phone(mobile)
    except normalize.InvalidContact:
        return Refusal(422, "bad_mobile", f"customer.mobile: {mobile!r} is not a valid mobile number",
                       f"手机号 {mobile!r} 无效")
    name = given.name or lead.get("name") or mobile
    return CustomerIdentity(CustomerKind.person, name, mobile=mobile, **_place(given, lead))


def _place(given: CustomerInput, lead: dict[str, Any]) -> dict[str, Any]:
    return {"province": given.province or lead.get("province"), "city": given.city or lead.get("city"),
            "industry": given.industry or lead.get("industry")}


def contact_of(given: ContactInput, lead: dict[str, Any]) -> Contact | Refusal:
    """The contact in normal forms (E.164, lower-case e-mail), empty fields taken from the lead."""
    raw = {field: getattr(given, field) or lead.get(field) for field in ("mobile", "wechat", "email")}
    normal = {}
    for field, check in (("mobile", normalize.phone), ("wechat", normalize.wechat), ("email", normalize.email)):
        if raw[field] is None:
            normal[field] = None
            continue
        try:
            normal[field] = check(raw[field])
        except normalize.InvalidContact as exc:
            return Refusal(422, f"bad_{field}", f"contact.{field}: {exc}", f"联系人的{_ZH[field]}无效")
    return Contact(name=given.name or lead.get("name"), title=given.title or lead.get("title"), **normal)


_ZH = {"mobile": "手机号", "wechat": "微信号", "email": "邮箱"}


def same_contact(existing: list[dict[str, Any]], contact: Contact) -> dict[str, Any] | None:
    """The customer's contact this one is (a mobile, WeChat id or e-mail in common), if any."""
    for field in ("mobile", "wechat", "email"):
        value = getattr(contact, field)
        if value is None:
            continue
        for row in existing:
            if row[field] == value:
                return row
    return None


def filled(existing: dict[str, Any], contact: Contact) -> dict[str, Any]:
    """What the new conversion adds to a known contact: only fields it did not have."""
    return {k: v for k, v in contact.values().items() if v is not None and existing.get(k) is None}
