"""intake's tables (schema `intake`) and repository."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, String, Table, Uuid, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_intake.domain.model import LeadStatus, Submission
from leadflow_shared.db import service_metadata

metadata = service_metadata("intake")

leads = Table(
    "leads",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("fields", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid, ForeignKey(leads.c.id), nullable=False, index=True),
    Column("partner_id", String(100)),
    Column("outcome", String(20), nullable=False),
    Column("fields", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class LeadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, submission: Submission, outcome: str) -> None:
        await self.session.execute(
            leads.insert().values(id=submission.lead_id, fields=submission.fields, status=LeadStatus.received)
        )
        await self.session.execute(
            submissions.insert().values(
                id=submission.submission_id, lead_id=submission.lead_id, partner_id=submission.partner_id,
                outcome=outcome, fields=submission.fields,
            )
        )

    async def get(self, lead_id: uuid.UUID) -> dict[str, Any] | None:
        row = (await self.session.execute(select(leads).where(leads.c.id == lead_id))).mappings().first()
        return dict(row) if row else None

    async def status_for_update(self, lead_id: uuid.UUID) -> LeadStatus | None:
        status = await self.session.scalar(select(leads.c.status).where(leads.c.id == lead_id).with_for_update())
        return LeadStatus(status) if status else None

    async def set_status(self, lead_id: uuid.UUID, status: LeadStatus) -> None:
        await self.session.execute(
            update(leads).where(leads.c.id == lead_id).values(status=status, updated_at=func.now())
        )
