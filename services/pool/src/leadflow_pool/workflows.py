"""Temporal workflows of pool. Deterministic: time comes from workflow.now(), every deadline arrives as an
instant (computed from the business-day calendar outside), all I/O is in activities."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from leadflow_pool.activities import PoolActivities, RecycleRequest, RemindRequest
    from leadflow_pool.domain.model import OwnershipTerms, reminder_key
    from leadflow_pool.ownership_signals import FollowedUp
    from leadflow_pool.activities import ReactivationActivities, ReactivationRequest
    from leadflow_pool.reactivation import ReactivationPolicy

# Activities are idempotent: retried until they pass (Postgres away is an outage, not a failure). They run as
# local activities, in the worker that holds the workflow task: a deadline costs the server one workflow task
# instead of three (10,000 deadlines in one minute is what a busy Monday morning looks like).
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
ACTIVITY_TIMEOUT = timedelta(seconds=30)


# Unsandboxed: one runs per ownership (tens of thousands live, hundreds started a minute), and the sandbox
# costs its worker ~3.5 ms of CPU per run, more than the rest of the run. Its code imports nothing with side
# effects and takes time only from workflow.now(); the replay test of recorded histories keeps it deterministic.
@workflow.defn(name="Ownership", sandboxed=False)
class OwnershipWorkflow:
    """One ownership of a lead: the first follow-up, each follow-up restarting the inactivity clock, and the
    conversion, each by its deadline; a reminder before each; at the first missed one the lead is recycled
    (回收) to its pool, for assignment to give to someone else (二次分配). Release, transfer, conversion
    and reassignment end it (`ended`)."""

    @workflow.init
    def __init__(self, terms: OwnershipTerms) -> None:
        # the terms from the start, so that a follow-up signalled with the start (signal-with-start) applies
        self._terms = terms
        self._ended: str | None = None
        self._changed = False
        self._follow_ups = 0

    @workflow.run
    async def run(self, terms: OwnershipTerms) -> str:
        while self._ended is None:
            if self._history_is_long():
                workflow.continue_as_new(self._terms)
            due = self._terms.next_deadline()
            if due is None:
                await workflow.wait_condition(lambda: self._ended is not None)
                break
            kind, at = due
            key = reminder_key(kind, at)
            remind_at = at - timedelta(seconds=self._terms.remind_before_s)
            reminding = self._terms.remind_before_s > 0 and key not in self._terms.reminded
            if reminding and workflow.now() >= remind_at and workflow.now() < at:
                await self._remind(kind, at, key)
                continue
            wake = remind_at if reminding and remind_at > workflow.now() else at
            if wake > workflow.now():
                await self._wait_until(wake)
                continue
            recycled = await workflow.execute_local_activity_method(
                PoolActivities.recycle, RecycleRequest(self._terms.lead_id, self._terms.seq, self._terms.owner_id,
                                                       self._terms.pool_id, str(kind)),
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
            return f"recycled:{kind}" if recycled else "kept"
        return f"ended:{self._ended}"

    async def _remind(self, kind: str, at: object, key: str) -> None:
        await workflow.execute_local_activity_method(
            PoolActivities.remind, RemindRequest(self._terms.lead_id, self._terms.seq, self._terms.owner_id,
                                                 self._terms.pool_id, kind, at),  # type: ignore[arg-type]
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
        self._terms = dataclasses.replace(self._terms, reminded=(*self._terms.reminded, key))

    async def _wait_until(self, wake: object) -> None:
        """Until `wake`, or sooner if a signal changed the deadlines or ended the ownership."""
        self._changed = False
        try:
            await workflow.wait_condition(lambda: self._changed or self._ended is not None,
                                          timeout=wake - workflow.now())  # type: ignore[operator]
        except asyncio.TimeoutError:
            pass

    def _history_is_long(self) -> bool:
        info = workflow.info()
        # a lead followed up for years keeps a small history
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self._terms.history_limit

    @workflow.signal
    def followed_up(self, signal: FollowedUp) -> None:
        """跟进: the first follow-up is done; the inactivity clock restarts from this one."""
        self._follow_ups += 1
        self._terms = dataclasses.replace(self._terms, first_follow_up=None, inactivity=signal.inactivity_deadline)
        self._changed = True

    @workflow.signal
    def ended(self, reason: str) -> None:
        self._ended = reason

    @workflow.query
    def state(self) -> dict[str, Any]:
        due = self._terms.next_deadline()
        return {"next_deadline_kind": due[0] if due else None, "next_deadline": due[1].isoformat() if due else None,
                "follow_ups": self._follow_ups, "reminded": list(self._terms.reminded), "ended": self._ended}


@workflow.defn(name="Reactivation")
class ReactivationWorkflow:
    """库存线索激活, one run (started by pool's schedule): today's candidates picked and published; how many."""

    @workflow.run
    async def run(self, policy: ReactivationPolicy) -> int:
        return await workflow.execute_activity_method(
            ReactivationActivities.select_reactivation_candidates, ReactivationRequest(policy, workflow.now()),
            start_to_close_timeout=timedelta(minutes=2), retry_policy=RETRY)
