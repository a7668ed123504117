"""pool's Temporal worker, run beside HTTP and Kafka in the service process."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio.client import Client
from temporalio.worker import Worker

from leadflow_pool.activities import PoolActivities
from leadflow_pool.settings import PoolSettings
from leadflow_pool.workflows import FollowUpDeadlineWorkflow
from leadflow_shared.db import Database
from leadflow_shared.errors import TransientError
from leadflow_shared.logging import get_logger

log = get_logger(__name__)

WORKFLOWS = [FollowUpDeadlineWorkflow]


def activities_of(db: Database) -> list[object]:
    pool = PoolActivities(db)
    return [pool.recycle_overdue_lead]


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
                worker = Worker(
                    self.client, task_queue=self.settings.pool_task_queue, workflows=WORKFLOWS,
                    activities=activities_of(self.db),
                )
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
