"""The lead as intake takes it, and the status a partner sees it move through (for settlement)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class LeadStatus(StrEnum):
    received = "received"
    scored = "scored"
    assigned = "assigned"
    converted = "converted"
    lost = "lost"


# A status only moves forward, whatever order the other services' events arrive in.
_PROGRESSION = [LeadStatus.received, LeadStatus.scored, LeadStatus.assigned, LeadStatus.converted]


def advance(current: LeadStatus, reported: LeadStatus) -> LeadStatus:
    """The status after another service reports `reported`; `lost` and `converted` are final."""
    if current in (LeadStatus.converted, LeadStatus.lost):
        return current
    if reported == LeadStatus.lost:
        return reported
    return max(current, reported, key=_PROGRESSION.index)


class MissingContact(ValueError):
    """线索有效性: a lead needs a way to reach its person."""


@dataclass(frozen=True)
class Submission:
    """One posting of a lead by a partner or channel (every one is kept, for settlement)."""

    lead_id: uuid.UUID
    submission_id: uuid.UUID
    partner_id: str | None
    fields: dict[str, Any] = field(default_factory=dict)


def new_submission(fields: dict[str, Any], partner_id: str | None) -> Submission:
    """A fresh lead's first submission; refuses one that nobody could contact."""
    if not any(fields.get(k) for k in ("mobile", "wechat", "email")):
        raise MissingContact("a lead needs at least one of mobile, wechat or email")
    return Submission(lead_id=uuid.uuid4(), submission_id=uuid.uuid4(), partner_id=partner_id, fields=fields)
