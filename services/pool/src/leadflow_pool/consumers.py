"""pool takes routed leads: an owned lead gets a follow-up deadline workflow, a pooled one waits in its pool."""

from __future__ import annotations

from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from leadflow_pool.bootstrap import Pool
from leadflow_pool.db import PoolRepository
from leadflow_pool.domain.model import PoolStatus, follow_up_deadline, workflow_id
from leadflow_pool.workflows import FollowUpDeadlineWorkflow
from leadflow_shared.consumers import Subscription
from leadflow_shared.contracts import LEADS_ASSIGNED, LEADS_POOLED, LeadAssigned, LeadPooled
from leadflow_shared.db import UnitOfWork
from leadflow_shared.errors import TransientError
from leadflow_shared.events import CloudEvent


def subscriptions(pool: Pool) -> list[Subscription]:
    settings, temporal = pool.settings, pool.temporal

    async def on_lead_assigned(event: CloudEvent[LeadAssigned], uow: UnitOfWork) -> None:
        assigned = event.data
        repo = PoolRepository(uow.session)
        if not assigned.owner_id:
            await repo.upsert(assigned.lead_id, pool_id=assigned.pool_id or settings.default_pool, owner_id=None,
                              status=PoolStatus.in_pool)
            return
        deadline = follow_up_deadline(str(assigned.lead_id), assigned.owner_id, settings.default_pool,
                                      assigned.assigned_at, settings.follow_up_business_days)
        client = await temporal.connected_client()
        try:
            # One clock per lead: a new owner's assignment replaces the previous owner's clock.
            await client.start_workflow(
                FollowUpDeadlineWorkflow.run, deadline, id=workflow_id(deadline.lead_id),
                task_queue=settings.pool_task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
            )
        except RPCError as exc:
            raise TransientError(f"temporal refused the follow-up workflow: {exc}") from exc
        await repo.upsert(assigned.lead_id, pool_id=settings.default_pool, owner_id=assigned.owner_id,
                          status=PoolStatus.owned, deadline=deadline.deadline,
                          workflow_id=workflow_id(deadline.lead_id))

    async def on_lead_pooled(event: CloudEvent[LeadPooled], uow: UnitOfWork) -> None:
        pooled = event.data
        await PoolRepository(uow.session).upsert(pooled.lead_id, pool_id=pooled.pool_id, owner_id=None,
                                                 status=PoolStatus.in_pool)

    return [Subscription(LEADS_ASSIGNED, on_lead_assigned), Subscription(LEADS_POOLED, on_lead_pooled)]
