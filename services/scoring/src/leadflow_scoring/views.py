"""scoring's read side: the queries its API (and the operator's listings) answer."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from leadflow_scoring.db import leads, models, rule_sets
from leadflow_shared.db import Database, driver_connection

HISTORY_SQL = (
    "SELECT l.*, coalesce((SELECT jsonb_agg(jsonb_build_object('type', a.type, 'url', a.url, "
    "  'occurred_at', a.occurred_at, 'attributes', a.attributes) ORDER BY a.occurred_at) "
    "  FROM scoring.activities a WHERE a.lead_id = l.lead_id AND a.applied_at IS NOT NULL), '[]') AS history "
    "FROM scoring.leads l WHERE ($1::uuid IS NULL OR l.lead_id > $1) ORDER BY l.lead_id LIMIT $2"
)


async def score(db: Database, lead_id: uuid.UUID) -> dict[str, Any] | None:
    """A lead as scored last: score, grade, stage, explanation, snapshot."""
    async with db.uow() as uow:
        row = (await uow.session.execute(select(leads).where(leads.c.lead_id == lead_id))).mappings().first()
    return dict(row) if row else None


async def leads_with_history(db: Database, after: uuid.UUID | None, limit: int) -> list[dict[str, Any]]:
    """A page of leads (by id) with every activity applied to them, for scoring them again from scratch."""
    async with db.uow() as uow:
        rows = await (await driver_connection(uow.session)).fetch(HISTORY_SQL, after, limit)
    return [dict(row) for row in rows]


async def rule_sets_kept(db: Database) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The active rule set (with its YAML), and every version kept, oldest first."""
    async with db.uow() as uow:
        active = (await uow.session.execute(select(rule_sets).where(rule_sets.c.active))).mappings().first()
        rows = await uow.session.execute(select(rule_sets.c.version, rule_sets.c.active, rule_sets.c.created_by,
                                                rule_sets.c.created_at).order_by(rule_sets.c.created_at))
        return (dict(active) if active else None), [dict(r) for r in rows.mappings()]


async def predictive_models(db: Database) -> list[dict[str, Any]]:
    async with db.uow() as uow:
        rows = await uow.session.execute(select(models.c.version, models.c.active, models.c.info,
                                                models.c.created_at).order_by(models.c.created_at))
        return [dict(r) for r in rows.mappings()]
