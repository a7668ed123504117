"""pool's Temporal worker, run beside HTTP and Kafka in the service process, and its client's calls: start an
ownership's workflow, tell it of a follow-up, end it."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from leadflow_pool.activities import PoolActivities
from leadflow_pool.domain.model import OwnershipTerms
from leadflow_pool.ownership_signals import FollowedUp
from leadflow_pool.settings import PoolSettings
from leadflow_pool.workflows import OwnershipWorkflow
from leadflow_shared.db import Database
from leadflow_shared.errors import TransientError
from leadflow_shared.logging import get_logger

log = get_logger(__name__)

WORKFLOWS: list[type] = [OwnershipWorkflow]


def activities_of(db: Database) -> list[object]:
    pool = PoolActivities(db)
    return [pool.remind, pool.recycle]


class TemporalWorker:
    """Connects to Temporal (retrying while it is away) and runs pool's workflows and activities."""

    name = "temporal"

    def __init__(self, settings: PoolSettings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._worker_running = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="temporal-worker")

    async def _run(self) -> None:
        """Connect (retrying while Temporal is away) and run the worker; restart it if it dies."""
        delay = 0.5
        while True:
            try:
                if self.client is None:
                    self.client = await Client.connect(self.settings.temporal_address,
                                                       namespace=self.settings.temporal_namespace)
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
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

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
