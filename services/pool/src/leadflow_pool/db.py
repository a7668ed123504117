"""pool's writes: the pools document, the lead read model, ownership changes and the timeline (the tables are
in tables.py, the read side in views.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, insert as plain_insert, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_pool.domain.calendar import CalendarYear
from leadflow_pool.domain.pools import DEFAULT_POOLS, PoolDocument, parse_pools
from leadflow_pool.tables import calendar_days, calendar_years, metadata, pool_documents, pool_leads, timeline
from leadflow_shared.db import driver_connection, execute_rows, rows_statement

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


def timeline_row(lead_id: uuid.UUID, kind: str, at: datetime, *, actor: str | None = SYSTEM,
                 owner_id: str | None = None, pool_id: str | None = None,
                 detail: dict[str, Any] | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """One entry of the lead's timeline, for `insert_rows` with the transaction's events (one round trip)."""
    return timeline, [{"lead_id": lead_id, "kind": kind, "at": at, "actor": actor, "owner_id": owner_id,
                       "pool_id": pool_id, "detail": detail or {}}]


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


@dataclass(frozen=True)
class ClaimRead:
    """A lead's row, locked, with what a claim of it is judged on: the claimant's leads held from its pool and
    claims there today, when he last lost this lead, and the version of the pools document in force."""

    row: dict[str, Any]
    held: int
    claimed_today: int
    lost_at: datetime | None
    pools_version: int


# One round trip. The counts are taken only for a lead still in its pool: the losers of a race learn at once.
# The row lock waits for a concurrent claim's commit and the row is then read again (its new status); the
# counts are the claimant's own, settled before this statement by his advisory lock.
_CLAIM_READ = """
SELECT l.*, (SELECT coalesce(max(version), 0) FROM pool.pool_documents) AS pools_version,
  CASE WHEN l.status = 'in_pool' THEN (SELECT count(*) FROM pool.pool_leads o
       WHERE o.owner_id = $2 AND o.status = 'owned' AND o.pool_id = l.pool_id) END AS held,
  CASE WHEN l.status = 'in_pool' THEN (SELECT count(*) FROM pool.timeline t
       WHERE t.owner_id = $2 AND t.kind = 'claimed' AND t.at >= $3 AND t.pool_id = l.pool_id) END AS claimed_today,
  CASE WHEN l.status = 'in_pool' THEN (SELECT max(t.at) FROM pool.timeline t
       WHERE t.lead_id = l.lead_id AND t.owner_id = $2 AND t.kind = ANY($4::text[])) END AS lost_at
FROM pool.pool_leads l WHERE l.lead_id = $1 FOR UPDATE OF l
"""


@lru_cache(maxsize=64)
def _update_sql(names: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    return f"UPDATE pool.pool_leads SET updated_at = now(), {assignments} WHERE lead_id = $1"


class PoolRepository:
    """A lead's row, read and written on the transaction's own asyncpg connection: ownership changes are the
    hot path (a claim under fifty reps, ten thousand recycles in a minute), and SQLAlchemy's compile and
    cache-key work per statement costs more than the round trip."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_for_update(self, lead_id: uuid.UUID) -> dict[str, Any] | None:
        connection = await driver_connection(self.session)
        row = await connection.fetchrow("SELECT * FROM pool.pool_leads WHERE lead_id = $1 FOR UPDATE", lead_id)
        return dict(row) if row else None

    async def read_for_claim(self, lead_id: uuid.UUID, claimant_id: str, since: datetime,
                             lost: Sequence[str]) -> ClaimRead | None:
        connection = await driver_connection(self.session)
        found = await connection.fetchrow(_CLAIM_READ, lead_id, claimant_id, since, list(lost))
        if found is None:
            return None
        row = dict(found)
        extra = {k: row.pop(k) for k in ("pools_version", "held", "claimed_today", "lost_at")}
        return ClaimRead(row, int(extra["held"] or 0), int(extra["claimed_today"] or 0), extra["lost_at"],
                         int(extra["pools_version"]))

    async def get_many(self, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        connection = await driver_connection(self.session)
        rows = await connection.fetch("SELECT * FROM pool.pool_leads WHERE lead_id = ANY($1::uuid[])", list(lead_ids))
        return {row["lead_id"]: dict(row) for row in rows}

    async def update(self, lead_id: uuid.UUID, **values: Any) -> None:
        names = tuple(values)
        await (await driver_connection(self.session)).execute(_update_sql(names), lead_id,
                                                              *(values[name] for name in names))


READ_MODEL_FIELDS = ("name", "mobile", "wechat", "email", "company_name", "province", "city", "industry", "source",
                     "partner_id", "customer_level", "birthday", "received_at", "do_not_contact", "grade", "score",
                     "stage")


async def upsert_read_model(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """What intake and scoring said of leads (one dict per lead: lead_id, pool_id for a new row, and the fields
    known); a field not given keeps its value. A lead first seen here is `new`: not routed yet."""
    values = [{"status": "new", **{f: None for f in READ_MODEL_FIELDS}, **row} for row in rows]
    for value in values:
        value["do_not_contact"] = bool(value["do_not_contact"])
    await execute_rows(session, _UPSERT_READ_MODEL, values)  # a lead twice in the batch: applied in order


def _on_conflict(statement: Any) -> Any:
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["lead_id"],
        set_={f: func.coalesce(getattr(excluded, f), getattr(pool_leads.c, f)) for f in READ_MODEL_FIELDS}
        | {"do_not_contact": pool_leads.c.do_not_contact.op("OR")(excluded.do_not_contact)},
    )


_UPSERT_READ_MODEL = rows_statement(pool_leads, ("lead_id", "pool_id", "status", *READ_MODEL_FIELDS), ["lead_id"],
                                    _on_conflict)
