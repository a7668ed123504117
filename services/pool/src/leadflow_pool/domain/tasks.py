"""Tasks (任务): a call campaign over a list of leads, a birthday call, the next follow-up an owner promised."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

MAX_LEADS_PER_REQUEST = 10_000


class TaskKind(StrEnum):
    call_campaign = "call_campaign"
    birthday_call = "birthday_call"
    follow_up = "follow_up"
    other = "other"


class TaskStatus(StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


def overdue(status: str, due_at: datetime, now: datetime) -> bool:
    return status == TaskStatus.open and due_at < now
