"""notify's read side: recipients (secrets masked) and the record of messages, newest first, a page at a time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from leadflow_notify.db import recipient_of
from leadflow_notify.domain.recipients import document
from leadflow_notify.tables import notifications, recipients
from leadflow_shared.db import Database

NOTIFICATION_FIELDS = ("id", "event_id", "topic", "kind", "person_id", "channel", "status", "attempts",
                       "last_error", "lead_id", "title", "body", "created_at", "next_attempt_at", "sent_at")


class BadCursor(ValueError):
    pass


async def _rows(db: Database, query: Any) -> list[dict[str, Any]]:
    async with db.uow() as uow:
        return [dict(r) for r in (await uow.session.execute(query)).mappings()]


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """A recipient as answers show it: its document (secrets masked), who changed it last and when."""
    return {**document(recipient_of(row)), "updated_by": row["updated_by"], "updated_at": row["updated_at"]}


async def recipient(db: Database, person_id: str) -> dict[str, Any] | None:
    rows = await _rows(db, select(recipients).where(recipients.c.person_id == person_id))
    return shown(rows[0]) if rows else None


async def list_recipients(db: Database, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await _rows(db, select(recipients).order_by(recipients.c.person_id).limit(limit).offset(offset))
    return [shown(row) for row in rows]


@dataclass(frozen=True)
class NotificationFilter:
    people: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    lead_id: uuid.UUID | None = None
    since: datetime | None = None


def read_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 19:
        raise BadCursor(cursor)
    return int(cursor)


async def notifications_page(db: Database, flt: NotificationFilter, limit: int, cursor: str | None
                             ) -> tuple[list[dict[str, Any]], str | None]:
    """The messages the filter admits, newest first, after the cursor; and the cursor of the next page."""
    n = notifications.c
    conditions = [column.in_(values) for column, values in (
        (n.person_id, flt.people), (n.status, flt.statuses), (n.kind, flt.kinds), (n.channel, flt.channels))
        if values]
    if flt.lead_id is not None:
        conditions.append(n.lead_id == flt.lead_id)
    if flt.since is not None:
        conditions.append(n.created_at >= flt.since)
    before = read_cursor(cursor)
    if before is not None:
        conditions.append(n.id < before)
    rows = await _rows(db, select(*(n[f] for f in NOTIFICATION_FIELDS)).where(*conditions)
                       .order_by(n.id.desc()).limit(limit + 1))
    following = str(rows[limit - 1]["id"]) if len(rows) > limit else None
    return rows[:limit], following
