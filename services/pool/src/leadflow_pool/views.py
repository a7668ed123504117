"""pool's read side: the pools and their leads (contacts masked until claimed), my leads, one lead."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select

from leadflow_pool.domain.model import PoolStatus, mask_email, mask_mobile, mask_text
from leadflow_pool.tables import pool_leads
from leadflow_shared.db import Database

LIST_COLUMNS = (
    pool_leads.c.lead_id, pool_leads.c.pool_id, pool_leads.c.status, pool_leads.c.name, pool_leads.c.mobile,
    pool_leads.c.wechat, pool_leads.c.email, pool_leads.c.company_name, pool_leads.c.province, pool_leads.c.city,
    pool_leads.c.industry, pool_leads.c.source, pool_leads.c.grade, pool_leads.c.score, pool_leads.c.received_at,
    pool_leads.c.pooled_at, pool_leads.c.previous_owner_ids,
)
# sort name → (column, descending)
SORTS = {"score": (pool_leads.c.score, False), "-score": (pool_leads.c.score, True),
         "received_at": (pool_leads.c.received_at, False), "-received_at": (pool_leads.c.received_at, True),
         "pooled_at": (pool_leads.c.pooled_at, False), "-pooled_at": (pool_leads.c.pooled_at, True)}


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class PoolLeadFilter:
    grades: tuple[str, ...] = ()
    min_score: float | None = None
    max_score: float | None = None
    sources: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    min_age_days: float | None = None  # since the lead was received
    max_age_days: float | None = None

    def where(self, now: datetime) -> list[Any]:
        c = pool_leads.c
        conditions: list[Any] = []
        for values, column in ((self.grades, c.grade), (self.sources, c.source), (self.provinces, c.province),
                               (self.cities, c.city), (self.industries, c.industry)):
            if values:
                conditions.append(column.in_(values))
        if self.min_score is not None:
            conditions.append(c.score >= self.min_score)
        if self.max_score is not None:
            conditions.append(c.score <= self.max_score)
        if self.min_age_days is not None:
            conditions.append(c.received_at <= now - timedelta(days=self.min_age_days))
        if self.max_age_days is not None:
            conditions.append(c.received_at >= now - timedelta(days=self.max_age_days))
        return conditions


def encode_cursor(sort_value: Any, lead_id: uuid.UUID) -> str:
    value = sort_value.isoformat() if isinstance(sort_value, datetime) else sort_value
    return base64.urlsafe_b64encode(json.dumps([value, str(lead_id)]).encode()).decode()


def decode_cursor(cursor: str, sort: str) -> tuple[Any, uuid.UUID]:
    try:
        value, lead_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if value is not None and sort.lstrip("-") != "score":
            value = datetime.fromisoformat(value)
        return value, uuid.UUID(lead_id)
    except (ValueError, TypeError) as exc:
        raise BadCursor("cursor is not one this API gave") from exc


def _after(column: Any, descending: bool, value: Any, lead_id: uuid.UUID) -> Any:
    """Keyset paging with NULLs last in both directions: (value, lead_id) strictly after the cursor."""
    if value is None:
        return and_(column.is_(None), pool_leads.c.lead_id > lead_id)
    beyond = column < value if descending else column > value
    return or_(beyond, and_(column == value, pool_leads.c.lead_id > lead_id), column.is_(None))


async def pool_leads_page(db: Database, pool_id: str, flt: PoolLeadFilter, sort: str, limit: int,
                          cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    column, descending = SORTS[sort]
    query: Select[Any] = select(*LIST_COLUMNS).where(
        pool_leads.c.pool_id == pool_id, pool_leads.c.status == PoolStatus.in_pool, *flt.where(datetime.now(UTC)))
    if cursor:
        query = query.where(_after(column, descending, *decode_cursor(cursor, sort)))
    order = column.desc().nulls_last() if descending else column.asc().nulls_last()
    query = query.order_by(order, pool_leads.c.lead_id).limit(limit + 1)
    async with db.uow() as uow:
        rows = [dict(r) for r in (await uow.session.execute(query)).mappings().all()]
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        following = encode_cursor(last[column.name], last["lead_id"])
    return [masked(r) for r in rows], following


def masked(row: dict[str, Any]) -> dict[str, Any]:
    """A pool lead as someone who has not claimed it sees it: 138****5678."""
    return {**row, "mobile": mask_mobile(row.get("mobile")), "email": mask_email(row.get("email")),
            "wechat": mask_text(row.get("wechat")), "name": mask_text(row.get("name")),
            "previous_owner_ids": list(row.get("previous_owner_ids") or [])}


async def pool_counts(db: Database) -> dict[str, dict[str, int]]:
    """Per pool: leads waiting in it, and leads owned out of it."""
    query = (select(pool_leads.c.pool_id, pool_leads.c.status, func.count())
             .where(pool_leads.c.status.in_([PoolStatus.in_pool, PoolStatus.owned]))
             .group_by(pool_leads.c.pool_id, pool_leads.c.status))
    counts: dict[str, dict[str, int]] = {}
    async with db.uow() as uow:
        for pool_id, status, n in (await uow.session.execute(query)).all():
            counts.setdefault(pool_id, {"in_pool": 0, "owned": 0})[status] = n
    return counts


async def my_leads(db: Database, owner_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """My leads: overdue first, then by the nearest deadline."""
    now = datetime.now(UTC)
    overdue = case((pool_leads.c.next_deadline < now, 0), else_=1)
    query = (select(pool_leads).where(pool_leads.c.owner_id == owner_id, pool_leads.c.status == PoolStatus.owned)
             .order_by(overdue, pool_leads.c.next_deadline.asc().nulls_last(), pool_leads.c.lead_id)
             .limit(limit).offset(offset))
    async with db.uow() as uow:
        rows = [dict(r) for r in (await uow.session.execute(query)).mappings().all()]
    for row in rows:
        row["overdue"] = bool(row["next_deadline"] and row["next_deadline"] < now)
    return rows


async def pool_lead(db: Database, lead_id: uuid.UUID) -> dict[str, Any] | None:
    async with db.uow() as uow:
        row = (await uow.session.execute(select(pool_leads).where(pool_leads.c.lead_id == lead_id))).mappings().first()
    return dict(row) if row else None
