"""The shapes partners send and receive, with examples for the OpenAPI document."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadflow_intake.domain.errors import FieldError
from leadflow_intake.domain.lead import CleanLead, clean
from leadflow_shared.contracts import Channel

EXAMPLE_LEAD = {
    "name": "张伟", "mobile": "+86 138-0013-8000", "email": "zhang.wei@example.cn",
    "company_name": "上海示例科技有限公司",
    "title": "IT 总监", "province": "上海", "city": "上海", "industry": "software", "source": "channel_partner",
    "campaign": "2026-q4-webinar", "bant": {"budget": True, "authority": True, "need": True, "timeline": "Q1"},
    "consent": {"do_not_call": False, "do_not_email": False}, "client_ip": "203.0.113.7",
    "device_id": "d-8f2c", "custom": {"crm_plan": "enterprise"},
}


class Bant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    budget: bool | str | None = None
    authority: bool | str | None = None
    need: bool | str | None = None
    timeline: bool | str | None = None


class Consent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    do_not_call: bool = False
    do_not_email: bool = False


class LeadIn(BaseModel):
    """A lead as a partner posts it. At least one of mobile, wechat or email must be valid."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_LEAD]})

    name: str | None = Field(None, max_length=100)
    mobile: str | None = Field(None, max_length=40, description="Any common writing; stored as E.164.")
    wechat: str | None = Field(None, max_length=60)
    email: str | None = Field(None, max_length=254)
    company_name: str | None = Field(None, max_length=200)
    company_credit_code: str | None = Field(None, max_length=30, description="统一社会信用代码 (checksum checked).")
    title: str | None = Field(None, max_length=100)
    province: str | None = Field(None, max_length=50)
    city: str | None = Field(None, max_length=50)
    industry: str | None = Field(None, max_length=100)
    source: Channel = Channel.other
    campaign: str | None = Field(None, max_length=200)
    referrer: str | None = Field(None, max_length=100, description="The rep or customer who referred the lead.")
    product_interest: str | None = Field(None, max_length=200)
    bant: Bant | None = None
    consent: Consent | None = None
    client_ip: str | None = Field(None, max_length=45, description="The visitor's IP (not your server's).")
    device_id: str | None = Field(None, max_length=200)
    custom: dict[str, Any] = Field(default_factory=dict, max_length=50)


class AcceptedOut(BaseModel):
    lead_id: uuid.UUID
    submission_id: uuid.UUID
    outcome: str = Field(description="created | merged | flagged")
    duplicate_of: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None


class BatchIn(BaseModel):
    leads: list[Any] = Field(description="Up to 1,000 leads, each as POST /v1/leads takes it.",
                                        examples=[[EXAMPLE_LEAD]])


class ProblemOut(BaseModel):
    errors: list[dict[str, str]]


def pydantic_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    codes = {"missing": "missing", "extra_forbidden": "unknown_field", "string_too_long": "too_long",
             "too_long": "too_long"}
    return [FieldError(prefix + ".".join(str(p) for p in e["loc"]) or "body", codes.get(e["type"], "invalid_value"),
                       e["msg"]) for e in exc.errors()]


def validate_lead(raw: Any) -> CleanLead | list[FieldError]:
    """One raw lead (a batch item, an import row) → CleanLead, or all its FieldErrors."""
    try:
        lead_in = LeadIn.model_validate(raw)
    except ValidationError as exc:
        return pydantic_errors(exc)
    return clean(lead_in.model_dump(mode="json", exclude_none=True))
