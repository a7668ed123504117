"""pool's HTTP API for staff (a staff token, leadflow_shared.staff): a lead's place (owner or pool, deadline),
for every staff role; recording a follow-up, for its owner (a rep: only on his own leads), managers and admins."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.status_codes import HTTP_202_ACCEPTED
from pydantic import BaseModel

from leadflow_pool import views
from leadflow_pool.bootstrap import Pool
from leadflow_pool.db import PoolRepository
from leadflow_pool.domain.model import PoolStatus
from leadflow_pool.temporal import TemporalWorker
from leadflow_pool.workflows import FollowUpDeadlineWorkflow
from leadflow_shared.logging import get_logger
from leadflow_shared.staff import Role, Staff, StaffForbidden, staff_roles

log = get_logger(__name__)
ANY_STAFF = staff_roles(Role.rep, Role.sdr, Role.manager, Role.admin)
FOLLOWERS = staff_roles(Role.rep, Role.manager, Role.admin)


class PoolLeadView(BaseModel):
    lead_id: uuid.UUID
    pool_id: str
    owner_id: str | None
    status: str
    follow_up_deadline: datetime | None
    workflow_id: str | None


class PoolLeadController(Controller):
    path = "/v1/leads"
    tags = ["pool"]

    @get("/{lead_id:uuid}", guards=[ANY_STAFF],
         summary="Where a lead is: its owner and deadline, or its pool (staff: rep, sdr, manager, admin)")
    async def show(self, lead_id: FromPath[uuid.UUID], pool: NamedDependency[Pool]) -> PoolLeadView:
        row = await views.pool_lead(pool.db, lead_id)
        if row is None:
            raise NotFoundException(f"pool has no lead {lead_id}")
        return PoolLeadView.model_validate(row)

    @post("/{lead_id:uuid}/follow-ups", status_code=HTTP_202_ACCEPTED, guards=[FOLLOWERS],
          summary="The owner followed the lead up (staff: rep for his own leads, manager, admin)")
    async def follow_up(self, lead_id: FromPath[uuid.UUID], pool: NamedDependency[Pool],
                        staff: NamedDependency[Staff]) -> PoolLeadView:
        async with pool.db.uow() as uow:
            repo = PoolRepository(uow.session)
            row = await repo.get_for_update(lead_id)
            if row is not None and not staff.has(Role.manager, Role.admin) and row["owner_id"] != staff.id:
                raise StaffForbidden(f"lead {lead_id} is not yours: a rep records follow-ups on his own leads",
                                     f"线索 {lead_id} 不归您负责：销售代表只能为自己的线索记录跟进")
            if row is None or row["status"] != PoolStatus.owned:
                raise NotFoundException(f"lead {lead_id} has no owner waiting on a follow-up")
            await repo.set_status(lead_id, PoolStatus.followed_up)
            await uow.commit()
        await _stop_the_clock(pool.temporal, row["workflow_id"])
        return PoolLeadView.model_validate({**row, "status": PoolStatus.followed_up})


async def _stop_the_clock(worker: TemporalWorker, workflow_id: str) -> None:
    """Best effort: the follow-up is already recorded, and a clock that fires anyway finds the lead
    followed up and keeps it with its owner (the recycle activity checks)."""
    try:
        client = await worker.connected_client(timeout_s=3)
        await asyncio.wait_for(
            client.get_workflow_handle(workflow_id).signal(FollowUpDeadlineWorkflow.record_follow_up), 5
        )
    except Exception as exc:  # completed already, or Temporal away
        log.info("follow-up not signalled to its workflow", workflow_id=workflow_id, error=repr(exc))
