"""Temporal activities of pool: the I/O its workflows need (Postgres and the outbox), each idempotent and
each a no-op once the ownership it belongs to has ended (the lead's `ownership_seq` moved on)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from temporalio import activity

from leadflow_pool.db import NO_DEADLINES, PoolRepository, current_pools, record
from leadflow_pool.domain.model import PoolStatus, recycle_destination
from leadflow_pool.reactivation import ReactivationPolicy, select_candidates
from leadflow_pool.tables import timeline
from leadflow_shared.contracts import (
    LEADS_DEADLINE_APPROACHING,
    LEADS_RECYCLED,
    DeadlineApproaching,
    LeadRecycled,
)
from leadflow_shared.db import Database


@dataclass(frozen=True)
class RemindRequest:
    lead_id: str
    seq: int
    owner_id: str
    pool_id: str
    kind: str
    deadline: datetime


@dataclass(frozen=True)
class RecycleRequest:
    lead_id: str
    seq: int
    owner_id: str
    pool_id: str
    kind: str


def _current(row: dict[str, Any] | None, seq: int, owner_id: str) -> bool:
    return (row is not None and row["status"] == PoolStatus.owned and row["ownership_seq"] == seq
            and row["owner_id"] == owner_id)


class PoolActivities:
    """Activities bound to the service's database (an instance is registered with the worker)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name="remind")
    async def remind(self, request: RemindRequest) -> bool:
        """A deadline is near: the owner is reminded (leads.deadline_approaching.v1), once."""
        lead_id = uuid.UUID(request.lead_id)
        async with self.db.uow() as uow:
            row = await PoolRepository(uow.session).get_for_update(lead_id)
            if not _current(row, request.seq, request.owner_id):
                return False
            detail = {"kind": request.kind, "deadline": request.deadline.isoformat(), "seq": request.seq}
            sent = await uow.session.scalar(select(timeline.c.id).where(
                timeline.c.lead_id == lead_id, timeline.c.kind == "reminder", timeline.c.detail.contains(detail)))
            if sent is not None:
                return True  # a retry after the commit: already reminded
            now = datetime.now(UTC)
            await record(uow.session, lead_id, "reminder", now, owner_id=request.owner_id, pool_id=request.pool_id,
                         detail=detail)
            await uow.publish(LEADS_DEADLINE_APPROACHING, lead_id, DeadlineApproaching(
                lead_id=lead_id, owner_id=request.owner_id, pool_id=request.pool_id, deadline_kind=request.kind,
                deadline=request.deadline, reminded_at=now))
            await uow.commit()
        return True

    @activity.defn(name="recycle")
    async def recycle(self, request: RecycleRequest) -> bool:
        """回收: the deadline passed; the lead goes back to its pool (or where the pool's recycle rule says).
        False when the ownership already ended (followed up, released, transferred, converted meanwhile)."""
        lead_id = uuid.UUID(request.lead_id)
        async with self.db.uow() as uow:
            repo = PoolRepository(uow.session)
            row = await repo.get_for_update(lead_id)
            if row is None or not _current(row, request.seq, request.owner_id):
                return False
            _, document = await current_pools(uow.session)
            pool_def = document.pool(row["pool_id"])
            destination = recycle_destination(pool_def, document.rules_of(row["pool_id"]), row["grade"],
                                              row["customer_level"], row["pool_id"])
            now = datetime.now(UTC)
            await repo.update(lead_id, status=PoolStatus.in_pool, owner_id=None, pool_id=destination, pooled_at=now,
                              previous_owner_ids=[*(row["previous_owner_ids"] or []), request.owner_id], **NO_DEADLINES)
            reason = f"{request.kind}_overdue"
            await record(uow.session, lead_id, "recycled", now, owner_id=request.owner_id, pool_id=destination,
                         detail={"reason": reason, "seq": request.seq, "from_pool_id": row["pool_id"]})
            await uow.publish(LEADS_RECYCLED, lead_id, LeadRecycled(
                lead_id=lead_id, pool_id=destination, previous_owner_id=request.owner_id, reason=reason,
                recycled_at=now, from_pool_id=row["pool_id"] if destination != row["pool_id"] else None))
            await uow.commit()
        activity.logger.info("lead recycled: %s (%s)", request.lead_id, reason)
        return True


@dataclass(frozen=True)
class ReactivationRequest:
    """One run of 库存线索激活: the policy (from the schedule's settings) and the run's instant."""

    policy: ReactivationPolicy
    at: datetime


class ReactivationActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name="select_reactivation_candidates")
    async def select_reactivation_candidates(self, request: ReactivationRequest) -> int:
        """Pick idle leads for marketing (leads.reactivation_candidates.v1), in one transaction; how many.
        A retry after the commit picks none of them again (they were touched) and the day's cap holds."""
        async with self.db.uow() as uow:
            selected = await select_candidates(uow, request.policy, request.at)
            await uow.commit()
        return selected
