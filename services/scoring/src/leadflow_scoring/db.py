"""scoring's tables (schema `scoring`) and repository."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Column, DateTime, Float, String, Table, Uuid, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_scoring.domain.model import Score
from leadflow_shared.db import service_metadata

metadata = service_metadata("scoring")

scored_leads = Table(
    "scored_leads",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("lead", JSONB, nullable=False),
    Column("score", Float, nullable=False),
    Column("grade", String(2), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("rules_version", String(50), nullable=False),
    Column("explanation", JSONB, nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class ScoreRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(self, lead_id: uuid.UUID, lead: dict[str, Any], score: Score) -> None:
        values = dict(
            lead=lead, score=score.points, grade=score.grade, stage=score.stage,
            rules_version=score.rules_version,
            explanation=[{"rule": rule, "points": points} for rule, points in score.factors],
        )
        await self.session.execute(
            insert(scored_leads)
            .values(lead_id=lead_id, **values)
            .on_conflict_do_update(index_elements=["lead_id"], set_={**values, "scored_at": func.now()})
        )

    async def get(self, lead_id: uuid.UUID) -> dict[str, Any] | None:
        row = (await self.session.execute(select(scored_leads).where(scored_leads.c.lead_id == lead_id))).mappings()
        first = row.first()
        return dict(first) if first else None
