"""opportunity's tables (schema `opportunity`) and its writes (the read side is views.py)."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, DateTime, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_opportunity.domain.model import ConversionStatus
from leadflow_shared.db import service_metadata

metadata = service_metadata("opportunity")

lead_owners = Table(
    "lead_owners",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("owner_id", String(100)),
    Column("status", String(20), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class LeadOwnerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def set_owner(self, lead_id: uuid.UUID, owner_id: str | None, status: ConversionStatus) -> None:
        values = dict(owner_id=owner_id, status=status)
        await self.session.execute(
            insert(lead_owners).values(lead_id=lead_id, **values)
            .on_conflict_do_update(
                index_elements=["lead_id"], set_={**values, "updated_at": func.now()},
                where=lead_owners.c.status != ConversionStatus.converted,  # a customer stays one
            )
        )
