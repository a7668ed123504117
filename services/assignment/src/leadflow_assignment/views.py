"""assignment's read side: the queries its API and CLI answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from leadflow_shared.db import Database, driver_connection


async def _fetch(db: Database, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with db.uow() as uow:
        return [dict(r) for r in await (await driver_connection(uow.session)).fetch(sql, *args)]


async def lead(db: Database, lead_id: uuid.UUID) -> dict[str, Any] | None:
    rows = await _fetch(db, "SELECT lead_id, status, owner_id, team_id, pool_id, queue, previous_owners, stage, grade, "
                            "channel, partner_id, routed_at, updated_at FROM assignment.leads WHERE lead_id = $1", lead_id)
    return rows[0] if rows else None


async def decisions(db: Database, lead_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every decision made for the lead, newest first."""
    return await _fetch(db, "SELECT * FROM assignment.decisions WHERE lead_id = $1 ORDER BY id DESC", lead_id)


async def distribution(db: Database, team: str | None, start: datetime | None, end: datetime | None
                       ) -> list[dict[str, Any]]:
    """Leads each rep received in [start, end), by grade and by source channel."""
    rows = await _fetch(
        db,
        "SELECT owner_id, team_id, coalesce(grade, '?') AS grade, coalesce(channel, 'other') AS channel, count(*) AS n "
        "FROM assignment.decisions WHERE outcome = 'assigned' AND ($1::text IS NULL OR team_id = $1) "
        "AND ($2::timestamptz IS NULL OR decided_at >= $2) AND ($3::timestamptz IS NULL OR decided_at < $3) "
        "GROUP BY owner_id, team_id, grade, channel ORDER BY owner_id", team, start, end)
    reps: dict[str, dict[str, Any]] = {}
    for row in rows:
        rep = reps.setdefault(row["owner_id"], {"rep_id": row["owner_id"], "team_id": row["team_id"], "leads": 0,
                                                "by_grade": {}, "by_channel": {}})
        rep["leads"] += row["n"]
        rep["by_grade"][row["grade"]] = rep["by_grade"].get(row["grade"], 0) + row["n"]
        rep["by_channel"][row["channel"]] = rep["by_channel"].get(row["channel"], 0) + row["n"]
    return list(reps.values())


async def loads(db: Database) -> dict[str, dict[str, Any]]:
    rows = await _fetch(db, "SELECT rep_id, open_leads, day, new_today FROM assignment.rep_loads")
    return {r["rep_id"]: r for r in rows}


async def queued(db: Database, queue: str, limit: int) -> list[dict[str, Any]]:
    return await _fetch(db, "SELECT lead_id, team_id, grade, channel, routed_at FROM assignment.leads "
                            "WHERE status = 'queued' AND queue = $1 ORDER BY routed_at, lead_id LIMIT $2", queue, limit)


async def versions(db: Database, table: str) -> list[dict[str, Any]]:
    return await _fetch(db, f"SELECT version, created_by, created_at FROM assignment.{table} ORDER BY version DESC")
