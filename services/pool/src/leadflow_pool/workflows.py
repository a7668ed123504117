"""Temporal workflows of pool. Deterministic: time comes from workflow.now(), I/O from activities."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from leadflow_pool.activities import PoolActivities, RecycleRequest
    from leadflow_pool.domain.model import FollowUpDeadline


@workflow.defn
class FollowUpDeadlineWorkflow:
    """An owner must follow up by the deadline (in business days), or the lead is recycled (回收)."""

    def __init__(self) -> None:
        self._followed_up = False

    @workflow.run
    async def run(self, deadline: FollowUpDeadline) -> str:
        remaining = max(deadline.deadline - workflow.now(), timedelta(seconds=1))
        try:
            await workflow.wait_condition(lambda: self._followed_up, timeout=remaining)
            return "followed_up"
        except asyncio.TimeoutError:
            pass
        recycled = await workflow.execute_activity_method(
            PoolActivities.recycle_overdue_lead,
            RecycleRequest(deadline.lead_id, deadline.owner_id, deadline.pool_id),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )
        # False: followed up, released or reassigned after the timer fired but before the activity ran
        return "recycled" if recycled else "kept"

    @workflow.signal
    def record_follow_up(self) -> None:
        self._followed_up = True

    @workflow.query
    def followed_up(self) -> bool:
        return self._followed_up
