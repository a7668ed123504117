"""Temporal activities of pool: the I/O its workflows need (Postgres and the outbox)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio import activity

from leadflow_pool.db import PoolRepository
from leadflow_pool.domain.model import PoolStatus
from leadflow_shared.contracts import LEADS_RECYCLED, LeadRecycled
from leadflow_shared.db import Database


@dataclass(frozen=True)
class RecycleRequest:
    lead_id: str
    owner_id: str
    pool_id: str


class PoolActivities:
    """Activities bound to the service's database (an instance is registered with the worker)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name="recycle_overdue_lead")
    async def recycle_overdue_lead(self, request: RecycleRequest) -> bool:
        """回收: take the lead from its owner back into the pool; False if followed up meanwhile."""
        lead_id = uuid.UUID(request.lead_id)
        async with self.db.uow() as uow:
            repo = PoolRepository(uow.session)
            lead = await repo.get_for_update(lead_id)
            if lead is None or lead["status"] != PoolStatus.owned or lead["owner_id"] != request.owner_id:
                return False  # followed up, released or reassigned since: nothing to take back
            await repo.set_status(lead_id, PoolStatus.recycled, owner_id=None, pool_id=request.pool_id)
            await uow.publish(
                LEADS_RECYCLED, lead_id,
                LeadRecycled(lead_id=lead_id, pool_id=request.pool_id, previous_owner_id=request.owner_id,
                             reason="follow_up_overdue", recycled_at=datetime.now(UTC)),
            )
            await uow.commit()
        activity.logger.info("lead recycled: %s", request.lead_id)
        return True
