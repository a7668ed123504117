"""What a submitted form means as an API call: each form's fields checked here first, so that a mistake is
told beside its field in the person's language (an error key of i18n), and the body the API takes.

A form arrives as a multidict flattened to {name: [values]}; nothing here knows HTTP."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

Form = Mapping[str, Sequence[str]]

FOLLOW_UP_TYPES = ("call", "visit", "wechat", "email", "meeting")
GRADES = ("A", "B", "C", "D")
POOL_SORTS = ("-score", "score", "-received_at", "received_at")
FUNNEL_GROUPS = ("none", "source", "partner", "rep", "team", "day", "week", "month")


@dataclass
class Parsed:
    """A form's API body (or query), or the errors by field (values are i18n keys)."""

    body: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def one(form: Form, name: str) -> str:
    """A field's value, stripped ('' when absent)."""
    values = form.get(name) or []
    return values[0].strip() if values else ""


def many(form: Form, name: str) -> list[str]:
    return [v.strip() for v in form.get(name) or [] if v.strip()]


def _text(p: Parsed, form: Form, name: str, *, required: bool = False, max_length: int = 2000,
          key: str | None = None) -> None:
    value = one(form, name)
    if not value:
        if required:
            p.errors[name] = "error.required"
        return
    if len(value) > max_length:
        p.errors[name] = "error.too_long"
        return
    p.body[key or name] = value


def _number(p: Parsed, form: Form, name: str, *, low: float, high: float, required: bool = False,
            key: str | None = None) -> None:
    value = one(form, name).replace(",", "").replace("，", "")
    if not value:
        if required:
            p.errors[name] = "error.required"
        return
    try:
        number = float(value)
    except ValueError:
        p.errors[name] = "error.number"
        return
    if not low <= number <= high:
        p.errors[name] = "error.range"
        return
    p.body[key or name] = number


def _date(p: Parsed, form: Form, name: str, key: str | None = None) -> None:
    value = one(form, name)
    if not value:
        return
    try:
        p.body[key or name] = date.fromisoformat(value).isoformat()
    except ValueError:
        p.errors[name] = "error.date"


def follow_up(form: Form) -> Parsed:
    """跟进 / 拜访: a call, a visit (with the check-in's position), WeChat, e-mail or meeting."""
    p = Parsed()
    kind = one(form, "type")
    if kind not in FOLLOW_UP_TYPES:
        p.errors["type"] = "error.choose"
    else:
        p.body["type"] = kind
    _text(p, form, "note", max_length=5000, required=True)
    _text(p, form, "outcome", max_length=50)
    when = one(form, "next_follow_up_at")
    if when:
        try:
            p.body["next_follow_up_at"] = datetime.fromisoformat(when).isoformat()
        except ValueError:
            p.errors["next_follow_up_at"] = "error.datetime"
    if kind == "visit":
        place = Parsed()
        _number(place, form, "latitude", low=-90, high=90, required=True)
        _number(place, form, "longitude", low=-180, high=180, required=True)
        _number(place, form, "accuracy_m", low=0, high=100_000)
        p.errors.update(place.errors)
        if place.ok:
            p.body["location"] = place.body
    return p


def release(form: Form, reasons: Sequence[str]) -> Parsed:
    """放弃: back to the pool with a reason of the pool's list."""
    p = Parsed()
    reason = one(form, "reason")
    if reason not in reasons:
        p.errors["reason"] = "error.choose"
    else:
        p.body["reason"] = reason
    _text(p, form, "note", max_length=2000)
    return p


def lead_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def transfer(form: Form) -> Parsed:
    """转移: a lead to a rep, or to another pool (one of the two)."""
    p = Parsed()
    if lead_id(one(form, "lead_id")) is None:
        p.errors["lead_id"] = "error.lead_id"
    else:
        p.body["lead_id"] = str(lead_id(one(form, "lead_id")))
    to_rep, to_pool = one(form, "to_owner_id"), one(form, "to_pool_id")
    if bool(to_rep) == bool(to_pool):
        p.errors["to_owner_id"] = "error.rep_or_pool"
    elif to_rep:
        p.body["to_owner_id"] = to_rep
    else:
        p.body["to_pool_id"] = to_pool
    _text(p, form, "reason", max_length=2000)
    return p


def convert(form: Form) -> Parsed:
    """线索转商机: the opportunity's name and value; the customer and contact default to the lead's."""
    p = Parsed()
    opportunity = Parsed()
    _text(opportunity, form, "opportunity_name", required=True, max_length=200, key="name")
    _number(opportunity, form, "amount", low=0, high=1e12, required=True)
    currency = one(form, "currency") or "CNY"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        opportunity.errors["currency"] = "error.currency"
    opportunity.body["currency"] = currency
    _date(opportunity, form, "expected_close")
    customer = Parsed()
    _text(customer, form, "customer_name", max_length=200, key="name")
    _text(customer, form, "credit_code", max_length=40)
    contact = Parsed()
    _text(contact, form, "contact_title", max_length=100, key="title")
    p.errors = {**opportunity.errors, **customer.errors, **contact.errors}
    p.body = {"opportunity": opportunity.body, "customer": customer.body, "contact": contact.body}
    return p


def move(form: Form, stages: Sequence[str], lost_reasons: Sequence[str]) -> Parsed:
    """A stage move, or won (with the contract's reference) or lost (with a reason)."""
    p = Parsed()
    to = one(form, "to")
    if to not in (*stages, "won", "lost"):
        p.errors["to"] = "error.choose"
        return p
    p.body["to"] = to
    if to == "lost":
        reason = one(form, "lost_reason")
        if reason not in lost_reasons:
            p.errors["lost_reason"] = "error.choose"
        else:
            p.body["lost_reason"] = reason
    if to == "won":
        _text(p, form, "contract_ref", required=True, max_length=100)
    _text(p, form, "note", max_length=2000)
    return p


def assign(form: Form) -> Parsed:
    """A manager's pick from the queue (手动分配)."""
    p = Parsed()
    _text(p, form, "rep_id", required=True, max_length=100)
    _text(p, form, "reason", max_length=500)
    return p


def distribute(form: Form) -> Parsed:
    """批量分配: the queued or pooled leads of a team shared among reps."""
    p = Parsed()
    reps = many(form, "rep_ids")
    if not reps:
        p.errors["rep_ids"] = "error.required"
    p.body["rep_ids"] = reps
    status = one(form, "status") or "queued"
    if status not in ("queued", "pooled"):
        p.errors["status"] = "error.choose"
    p.body["filter"] = {"status": status}
    limit = Parsed()
    _number(limit, form, "limit", low=1, high=5000)
    p.errors.update(limit.errors)
    p.body["limit"] = int(limit.body.get("limit", 100))
    return p


def simulate(form: Form) -> Parsed:
    """The proposed assignment rules replayed over past leads, against the rules in force."""
    p = Parsed()
    _text(p, form, "rules", required=True, max_length=200_000)
    for name in ("from", "to"):
        _date(p, form, name)
        if name in p.body:
            p.body[name] = f"{p.body[name]}T00:00:00+08:00"
    return p


def funnel_query(form: Form) -> Parsed:
    """The funnel's filters as the report's query."""
    p = Parsed()
    _date(p, form, "from")
    _date(p, form, "to")
    if "from" in p.body and "to" in p.body and p.body["from"] > p.body["to"]:
        p.errors["from"] = "error.period"
    for name in ("source", "partner", "team", "rep"):
        if one(form, name):
            p.body[name] = one(form, name)
    group = one(form, "group") or "none"
    p.body["group"] = group if group in FUNNEL_GROUPS else "none"
    return p


def pool_query(form: Form) -> Parsed:
    """A pool's filters as its leads' query (grade, score, source, province, sort)."""
    p = Parsed()
    grades = [g for g in many(form, "grade") if g in GRADES]
    if grades:
        p.body["grade"] = grades
    _number(p, form, "min_score", low=0, high=1000)
    for name in ("source", "province", "city", "industry"):
        if one(form, name):
            p.body[name] = one(form, name)
    sort = one(form, "sort") or "-score"
    p.body["sort"] = sort if sort in POOL_SORTS else "-score"
    return p


NEWS_KINDS = ("deadline", "recycled", "duplicate", "assigned", "collusion")
# channel → (its fields as the form names them, as notify's document names them)
CHANNEL_FIELDS = {
    "dingtalk": (("dingtalk_access_token", "access_token"), ("dingtalk_secret", "secret")),
    "wecom": (("wecom_key", "key"),),
    "lark": (("lark_token", "token"), ("lark_secret", "secret")),
    "feishu": (("feishu_token", "token"), ("feishu_secret", "secret")),
    "email": (("email_address", "address"),),
}


def recipient(form: Form) -> Parsed:
    """My notification settings as notify's recipient document: the channels filled in, quiet hours, the kinds
    of news; notify checks each robot's token and the address (and keeps a masked secret sent back)."""
    p = Parsed()
    channels = []
    for channel, fields in CHANNEL_FIELDS.items():
        values = {key: one(form, name) for name, key in fields if one(form, name)}
        first = fields[0]
        if values and first[1] not in values:
            p.errors[first[0]] = "error.required"
        elif values:
            channels.append({"channel": channel, **values})
    start, end = one(form, "quiet_start"), one(form, "quiet_end")
    if bool(start) != bool(end):
        p.errors["quiet_end" if start else "quiet_start"] = "error.required"
    language = one(form, "language") or "zh"
    p.body = {"language": language if language in ("zh", "en") else "zh", "channels": channels,
              "kinds": [k for k in many(form, "kinds") if k in NEWS_KINDS]}
    if start and end:
        p.body["quiet_hours"] = {"start": start[:5], "end": end[:5]}
    if one(form, "display_name"):
        p.body["display_name"] = one(form, "display_name")[:100]
    return p


def recipient_values(document: Mapping[str, Any] | None) -> dict[str, Any]:
    """notify's stored settings as the form's values (secrets stay masked: sent back, they keep their value)."""
    if not document:
        return {"kinds": list(NEWS_KINDS)}
    values: dict[str, Any] = {"language": document.get("language") or "zh", "kinds": list(document.get("kinds") or []),
                              "display_name": document.get("display_name") or ""}
    quiet = document.get("quiet_hours") or {}
    values.update({"quiet_start": quiet.get("start", ""), "quiet_end": quiet.get("end", "")})
    for entry in document.get("channels") or []:
        for name, key in CHANNEL_FIELDS.get(entry.get("channel"), ()):
            values[name] = entry.get(key) or ""
    return values
