"""pool's tables (schema `pool`) and its writes (the read side is views.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, String, Table, Uuid, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_pool.domain.model import PoolStatus
from leadflow_shared.db import service_metadata

metadata = service_metadata("pool")

pool_leads = Table(
    "pool_leads",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("pool_id", String(100), nullable=False),
    Column("owner_id", String(100)),
    Column("status", String(20), nullable=False),
    Column("follow_up_deadline", DateTime(timezone=True)),
    Column("workflow_id", String(200)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class PoolRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self, lead_id: uuid.UUID, *, pool_id: str, owner_id: str | None, status: PoolStatus,
        deadline: datetime | None = None, workflow_id: str | None = None,
    ) -> None:
        values = dict(pool_id=pool_id, owner_id=owner_id, status=status, follow_up_deadline=deadline,
                      workflow_id=workflow_id)
        await self.session.execute(
            insert(pool_leads).values(lead_id=lead_id, **values)
            .on_conflict_do_update(index_elements=["lead_id"], set_={**values, "updated_at": func.now()})
        )

    async def set_status(self, lead_id: uuid.UUID, status: PoolStatus, **values: Any) -> None:
        await self.session.execute(
            update(pool_leads).where(pool_leads.c.lead_id == lead_id)
            .values(status=status, updated_at=func.now(), **values)
        )

    async def get_for_update(self, lead_id: uuid.UUID) -> dict[str, Any] | None:
        query = select(pool_leads).where(pool_leads.c.lead_id == lead_id).with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        return dict(row) if row else None
