"""pool's Temporal worker, run beside HTTP and Kafka in the service process, and its client's calls: start an
ownership's workflow, tell it of a follow-up, end it; and the schedule of 库存线索激活 (reactivation), made or
brought up to date once connected."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from leadflow_pool.activities import PoolActivities, ReactivationActivities
from leadflow_pool.domain.model import OwnershipTerms
from leadflow_pool.ownership_signals import FollowedUp
from leadflow_pool.reactivation import ReactivationPolicy
from leadflow_pool.settings import PoolSettings
from leadflow_pool.workflows import OwnershipWorkflow, ReactivationWorkflow
from leadflow_shared.db import Database
from leadflow_shared.errors import TransientError
from leadflow_shared.logging import get_logger

log = get_logger(__name__)

WORKFLOWS: list[type] = [OwnershipWorkflow, ReactivationWorkflow]


def activities_of(db: Database) -> list[object]:
    pool = PoolActivities(db)
    return [pool.remind, pool.recycle, ReactivationActivities(db).select_reactivation_candidates]


class TemporalWorker:
    """Connects to Temporal (retrying while it is away) and runs pool's workflows and activities."""

    name = "temporal"

    def __init__(self, settings: PoolSettings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._worker_running = False
        self._schedule_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="temporal-worker")
        if self.settings.reactivation_enabled:
            self._schedule_task = asyncio.create_task(self._keep_reactivation_schedule(),
                                                      name="reactivation-schedule")

    async def _run(self) -> None:
        """Connect (retrying while Temporal is away) and run the worker; restart it if it dies."""
        delay = 0.5
        while True:
            try:
                if self.client is None:
                    self.client = await Client.connect(self.settings.temporal_address,
                                                       namespace=self.settings.temporal_namespace)
                if not self.settings.temporal_worker:  # a client only: the worker runs in its own process
                    self._worker_running = True
                    await asyncio.Event().wait()
                worker = Worker(self.client, task_queue=self.settings.pool_task_queue, workflows=WORKFLOWS,
                                activities=activities_of(self.db))
                log.info("temporal worker started", task_queue=self.settings.pool_task_queue)
                self._worker_running = True
                await worker.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("temporal worker not running; retrying", error=repr(exc), retry_in_s=delay)
            finally:
                self._worker_running = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    async def stop(self) -> None:
        for task in (self._schedule_task, self._task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def check(self) -> None:
        if self.client is None:
            raise ConnectionError("not connected")
        if not self._worker_running:
            raise ConnectionError("worker not running")
        if not await self.client.service_client.check_health():
            raise ConnectionError("temporal is not serving")

    async def connected_client(self, timeout_s: float = 10.0) -> Client:
        """The client, once connected; TransientError if Temporal stays away (the caller retries)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.client is None:
            if asyncio.get_running_loop().time() > deadline:
                raise TransientError("temporal is not reachable")
            await asyncio.sleep(0.2)
        return self.client

    async def start_ownership(self, terms: OwnershipTerms) -> None:
        """Start the ownership's workflow, once: its id is the ownership's, a redelivered start finds it running
        and a finished one is never started again."""
        client = await self.connected_client()
        try:
            await client.start_workflow(
                OwnershipWorkflow.run, terms, id=terms.workflow_id, task_queue=self.settings.pool_task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
        except WorkflowAlreadyStartedError:
            return  # it ran and finished: this ownership's clock has done its work
        except RPCError as exc:
            raise TransientError(f"temporal refused the ownership workflow: {exc}") from exc

    async def signal_follow_up(self, terms: OwnershipTerms, signal: FollowedUp) -> None:
        """Signal-with-start: the follow-up reaches the ownership's workflow, started now if it was missing."""
        client = await self.connected_client()
        try:
            await client.start_workflow(
                OwnershipWorkflow.run, terms, id=terms.workflow_id, task_queue=self.settings.pool_task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                start_signal="followed_up", start_signal_args=[signal])
        except WorkflowAlreadyStartedError:
            return  # finished (recycled or ended): the follow-up came too late to matter to it
        except RPCError as exc:
            raise TransientError(f"temporal refused the follow-up signal: {exc}") from exc

    async def end_ownership(self, workflow_id: str, reason: str) -> None:
        """The ownership ended (released, transferred, converted...): its workflow stops waiting. One that
        finished already, or never started, needs nothing."""
        client = await self.connected_client()
        try:
            await client.get_workflow_handle(workflow_id).signal(OwnershipWorkflow.ended, reason)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return
            raise TransientError(f"temporal refused to end {workflow_id}: {exc}") from exc

    @property
    def reactivation_schedule_id(self) -> str:
        return f"pool-reactivation-{self.settings.pool_task_queue}"

    def reactivation_schedule(self) -> Schedule:
        """Every `reactivation_interval_s`, one ReactivationWorkflow with the settings' policy; a run missed
        while Temporal was away is not made up (the next one picks the same leads), runs never overlap."""
        every = timedelta(seconds=self.settings.reactivation_interval_s)
        return Schedule(
            action=ScheduleActionStartWorkflow(
                ReactivationWorkflow.run, ReactivationPolicy.of(self.settings), id=self.reactivation_schedule_id,
                task_queue=self.settings.pool_task_queue, execution_timeout=max(every, timedelta(minutes=10))),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            policy=SchedulePolicy(catchup_window=max(every, timedelta(minutes=1))),
        )

    async def ensure_reactivation_schedule(self, client: Client) -> None:
        """Create the schedule, or bring the one there up to this process's settings (keeping a pause an
        operator set): every replica may do it, the result is the same."""
        wanted = self.reactivation_schedule()
        try:
            await client.create_schedule(self.reactivation_schedule_id, wanted)
            log.info("reactivation schedule created", schedule_id=self.reactivation_schedule_id)
            return
        except ScheduleAlreadyRunningError:
            pass

        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(dataclasses.replace(wanted, state=current.description.schedule.state))

        await client.get_schedule_handle(self.reactivation_schedule_id).update(update)

    async def _keep_reactivation_schedule(self) -> None:
        """Once connected, make sure of the schedule, retrying while Temporal refuses."""
        delay = 1.0
        while True:
            try:
                await self.ensure_reactivation_schedule(await self.connected_client(timeout_s=60))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reactivation schedule not made yet; retrying", error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60)
