"""A rep's work list (我的线索): what is overdue first (red), what is due today next, then the rest by deadline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any


class Urgency(StrEnum):
    overdue = "overdue"
    due_today = "due_today"
    later = "later"
    none = "none"  # no deadline running


RANK = {Urgency.overdue: 0, Urgency.due_today: 1, Urgency.later: 2, Urgency.none: 3}


def parse_time(value: Any) -> datetime | None:
    """An API's ISO time (or None)."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def urgency(deadline: datetime | None, now: datetime, zone: tzinfo) -> Urgency:
    """Overdue once the deadline passed; due today while it falls on today's date where the rep works."""
    if deadline is None:
        return Urgency.none
    if deadline <= now:
        return Urgency.overdue
    if deadline.astimezone(zone).date() == now.astimezone(zone).date():
        return Urgency.due_today
    return Urgency.later


def work_list(leads: Iterable[Mapping[str, Any]], now: datetime, zone: tzinfo) -> list[dict[str, Any]]:
    """The leads, each with its `urgency`, overdue first (the longest overdue on top), then due today, then
    later ones by deadline, then those without a running deadline."""
    rows = []
    for lead in leads:
        deadline = parse_time(lead.get("next_deadline"))
        rows.append({**lead, "deadline": deadline, "urgency": urgency(deadline, now, zone)})
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(rows, key=lambda r: (RANK[r["urgency"]], r["deadline"] or far))


def counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    found = {u.value: 0 for u in Urgency}
    for row in rows:
        found[str(row["urgency"])] += 1
    return found
