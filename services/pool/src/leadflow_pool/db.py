"""pool's writes: the pools document, the lead read model, ownership changes and the timeline (the tables are
in tables.py, the read side in views.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert as plain_insert, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_pool.domain.calendar import CalendarYear
from leadflow_pool.domain.pools import DEFAULT_POOLS, PoolDocument, parse_pools
from leadflow_pool.tables import calendar_days, calendar_years, metadata, pool_documents, pool_leads, timeline

__all__ = ["metadata", "pool_leads", "PoolRepository", "record", "current_pools", "store_pools"]

SYSTEM = "system"
# An ownership's columns, cleared when the lead leaves its owner.
NO_DEADLINES: dict[str, Any] = dict(
    next_deadline=None, deadline_kind=None, first_follow_up_deadline=None, inactivity_deadline=None,
    conversion_deadline=None, protected_until=None, workflow_id=None, owned_via=None, owner_since=None)


async def record(session: AsyncSession, lead_id: uuid.UUID, kind: str, at: datetime, *, actor: str | None = SYSTEM,
                 owner_id: str | None = None, pool_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """One entry of the lead's timeline."""
    await session.execute(plain_insert(timeline).values(
        lead_id=lead_id, kind=kind, at=at, actor=actor, owner_id=owner_id, pool_id=pool_id, detail=detail or {}))


async def record_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(plain_insert(timeline), [{"actor": SYSTEM, "detail": {}, **row} for row in rows])


async def current_pools(session: AsyncSession) -> tuple[int, PoolDocument]:
    """The pools document in force and its version (0: none stored, the defaults apply)."""
    row = (await session.execute(
        select(pool_documents.c.version, pool_documents.c.document).order_by(pool_documents.c.version.desc()).limit(1)
    )).first()
    if row is None:
        return 0, DEFAULT_POOLS
    return row.version, parse_pools(row.document)


async def store_pools(session: AsyncSession, document: PoolDocument, by: str) -> int:
    result = await session.execute(
        plain_insert(pool_documents).values(document=document.document(), created_by=by).returning(pool_documents.c.version)
    )
    return int(result.scalar_one())


async def store_calendar_year(session: AsyncSession, year: CalendarYear) -> None:
    """Replace one year of the calendar (its holidays and make-up working days)."""
    first, last = datetime(year.year, 1, 1).date(), datetime(year.year, 12, 31).date()
    await session.execute(calendar_days.delete().where(calendar_days.c.day.between(first, last)))
    rows = ([{"day": d, "workday": False, "name": n} for d, n in year.holidays.items()]
            + [{"day": d, "workday": True, "name": n} for d, n in year.workdays.items()])
    if rows:
        await session.execute(plain_insert(calendar_days), rows)
    await session.execute(
        insert(calendar_years).values(year=year.year, source=year.source)
        .on_conflict_do_update(index_elements=["year"], set_={"source": year.source, "loaded_at": func.now()})
    )


class PoolRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_for_update(self, lead_id: uuid.UUID) -> dict[str, Any] | None:
        query = select(pool_leads).where(pool_leads.c.lead_id == lead_id).with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        return dict(row) if row else None

    async def get(self, lead_id: uuid.UUID) -> dict[str, Any] | None:
        row = (await self.session.execute(select(pool_leads).where(pool_leads.c.lead_id == lead_id))).mappings().first()
        return dict(row) if row else None

    async def update(self, lead_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(
            update(pool_leads).where(pool_leads.c.lead_id == lead_id).values(updated_at=func.now(), **values)
        )


READ_MODEL_FIELDS = ("name", "mobile", "wechat", "email", "company_name", "province", "city", "industry", "source",
                     "partner_id", "customer_level", "birthday", "received_at", "do_not_contact", "grade", "score",
                     "stage")


async def upsert_read_model(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """What intake and scoring said of leads (one dict per lead: lead_id, pool_id for a new row, and the fields
    known); a field not given keeps its value. A lead first seen here is `new`: not routed yet."""
    merged: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:  # one statement may not touch a row twice: merge a batch's rows per lead, later wins
        merged.setdefault(row["lead_id"], {}).update({k: v for k, v in row.items() if v is not None})
    if not merged:
        return
    values = [{"status": "new", **{f: None for f in READ_MODEL_FIELDS}, **row} for row in merged.values()]
    for value in values:
        value["do_not_contact"] = bool(value["do_not_contact"])
    statement = insert(pool_leads).values(values)
    excluded = statement.excluded
    await session.execute(statement.on_conflict_do_update(
        index_elements=["lead_id"],
        set_={f: func.coalesce(getattr(excluded, f), getattr(pool_leads.c, f)) for f in READ_MODEL_FIELDS}
        | {"do_not_contact": pool_leads.c.do_not_contact.op("OR")(excluded.do_not_contact)},
    ))
