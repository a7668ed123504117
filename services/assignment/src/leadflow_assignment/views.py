"""assignment's read side: the queries its API answers."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from leadflow_assignment.db import assignments
from leadflow_shared.db import Database


async def assignment(db: Database, lead_id: uuid.UUID) -> dict[str, Any] | None:
    async with db.uow() as uow:
        row = (await uow.session.execute(select(assignments).where(assignments.c.lead_id == lead_id))).mappings().first()
    return dict(row) if row else None
