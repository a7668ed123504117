"""pool's reads of the daily work: a lead's timeline, my tasks, and the visits whose check-in looks mocked."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.orm import aliased

from leadflow_pool.domain.tasks import overdue
from leadflow_pool.tables import follow_ups, pool_leads, tasks, timeline
from leadflow_shared.db import Database


class BadTaskCursor(ValueError):
    pass


async def lead_holders(db: Database, lead_id: uuid.UUID) -> dict[str, Any] | None:
    """Who holds the lead and who held it before (for who may read its timeline); None: unknown lead."""
    async with db.uow() as uow:
        row = (await uow.session.execute(
            select(pool_leads.c.owner_id, pool_leads.c.previous_owner_ids, pool_leads.c.team_id)
            .where(pool_leads.c.lead_id == lead_id))).mappings().first()
    return dict(row) if row else None


async def timeline_page(db: Database, lead_id: uuid.UUID, before: int | None, limit: int
                        ) -> tuple[list[dict[str, Any]], int | None]:
    """The lead's timeline newest first; `before`: the id of the last entry of the previous page."""
    c = timeline.c
    query = select(c.id, c.kind, c.at, c.actor, c.owner_id, c.pool_id, c.detail).where(c.lead_id == lead_id)
    if before is not None:
        anchor = select(c.at).where(c.id == before, c.lead_id == lead_id).scalar_subquery()
        query = query.where(tuple_(c.at, c.id) < tuple_(anchor, before))
    async with db.uow() as uow:
        rows = (await uow.session.execute(query.order_by(c.at.desc(), c.id.desc()).limit(limit + 1))).mappings().all()
    page = [dict(r) for r in rows[:limit]]
    return page, (page[-1]["id"] if len(rows) > limit else None)


def _task_cursor(due_at: datetime, task_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(json.dumps([due_at.isoformat(), str(task_id)]).encode()).decode()


def _read_task_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        due, task_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(due), uuid.UUID(task_id)
    except (ValueError, TypeError) as exc:
        raise BadTaskCursor("cursor is not one this API gave") from exc


async def my_tasks(db: Database, assignee_id: str, status: str, limit: int, cursor: str | None
                   ) -> tuple[list[dict[str, Any]], str | None]:
    """The assignee's tasks by due time: the overdue ones come first, since they fell due first."""
    c = tasks.c
    query = (select(c.id, c.lead_id, c.kind, c.title, c.note, c.due_at, c.status, c.campaign, c.created_by,
                    c.created_at, c.done_at, pool_leads.c.name, pool_leads.c.company_name)
             .join(pool_leads, pool_leads.c.lead_id == c.lead_id, isouter=True)
             .where(c.assignee_id == assignee_id, c.status == status))
    if cursor:
        due, task_id = _read_task_cursor(cursor)
        query = query.where(tuple_(c.due_at, c.id) > tuple_(due, task_id))
    async with db.uow() as uow:
        rows = (await uow.session.execute(query.order_by(c.due_at, c.id).limit(limit + 1))).mappings().all()
    now = datetime.now(UTC)
    page = [{**r, "overdue": overdue(r["status"], r["due_at"], now)} for r in rows[:limit]]
    following = _task_cursor(page[-1]["due_at"], page[-1]["id"]) if len(rows) > limit else None
    return page, following


async def mock_locations(db: Database, start: datetime | None, end: datetime | None, rep: str | None,
                         limit: int) -> list[dict[str, Any]]:
    """Flagged visits, newest first, each with the rep's check-in before it."""
    f, prev = follow_ups, aliased(follow_ups, name="prev")
    previous = (select(prev.c.id, prev.c.lead_id, prev.c.latitude, prev.c.longitude, prev.c.accuracy_m,
                       prev.c.created_at)
                .where(prev.c.staff_id == f.c.staff_id, prev.c.type == "visit", prev.c.latitude.is_not(None),
                       or_(prev.c.created_at < f.c.created_at,
                           and_(prev.c.created_at == f.c.created_at, prev.c.id != f.c.id)))
                .order_by(prev.c.created_at.desc()).limit(1).lateral("previous"))
    conditions = [f.c.type == "visit", func.cardinality(f.c.location_flags) > 0]
    if start:
        conditions.append(f.c.created_at >= start)
    if end:
        conditions.append(f.c.created_at < end)
    if rep:
        conditions.append(f.c.staff_id == rep)
    query = (select(f.c.id, f.c.staff_id, f.c.lead_id, f.c.latitude, f.c.longitude, f.c.accuracy_m, f.c.created_at,
                    f.c.location_flags, previous.c.id.label("prev_id"), previous.c.lead_id.label("prev_lead_id"),
                    previous.c.latitude.label("prev_latitude"), previous.c.longitude.label("prev_longitude"),
                    previous.c.accuracy_m.label("prev_accuracy_m"), previous.c.created_at.label("prev_at"))
             .select_from(f.outerjoin(previous, previous.c.id.is_not(None)))
             .where(*conditions).order_by(f.c.created_at.desc()).limit(limit))
    async with db.uow() as uow:
        rows = (await uow.session.execute(query)).mappings().all()
    return [_flagged(r) for r in rows]


def _flagged(r: Any) -> dict[str, Any]:
    previous = None if r["prev_id"] is None else {
        "follow_up_id": r["prev_id"], "lead_id": r["prev_lead_id"], "at": r["prev_at"],
        "position": {"latitude": r["prev_latitude"], "longitude": r["prev_longitude"],
                     "accuracy_m": r["prev_accuracy_m"]}}
    return {"follow_up_id": r["id"], "rep_id": r["staff_id"], "lead_id": r["lead_id"], "at": r["created_at"],
            "position": {"latitude": r["latitude"], "longitude": r["longitude"], "accuracy_m": r["accuracy_m"]},
            "flags": list(r["location_flags"]), "previous_check_in": previous}
