"""pool's read side: the queries its API answers."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from leadflow_pool.db import pool_leads
from leadflow_shared.db import Database


async def pool_lead(db: Database, lead_id: uuid.UUID) -> dict[str, Any] | None:
    async with db.uow() as uow:
        row = (await uow.session.execute(select(pool_leads).where(pool_leads.c.lead_id == lead_id))).mappings().first()
    return dict(row) if row else None
