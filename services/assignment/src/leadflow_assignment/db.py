"""assignment's tables (schema `assignment`) and its writes (the read side is views.py)."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, DateTime, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_assignment.domain.routing import Route
from leadflow_shared.db import service_metadata

metadata = service_metadata("assignment")

assignments = Table(
    "assignments",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("rule", String(50), nullable=False),
    Column("owner_id", String(100)),
    Column("pool_id", String(100)),
    Column("reason", String(500)),
    Column("assigned_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class AssignmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, lead_id: uuid.UUID, decision: Route) -> bool:
        """False when the lead was routed before (its first route stands)."""
        result = await self.session.execute(
            insert(assignments)
            .values(lead_id=lead_id, rule=decision.rule, owner_id=decision.owner_id, pool_id=decision.pool_id,
                    reason=decision.reason)
            .on_conflict_do_nothing(index_elements=["lead_id"])
            .returning(assignments.c.assigned_at)
        )
        return result.first() is not None
