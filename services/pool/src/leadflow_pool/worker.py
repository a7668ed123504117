"""pool's Temporal worker on its own: `python -m leadflow_pool.worker` runs the ownership and reactivation
workflows and their activities, apart from the HTTP API and consumers (run those with
LEADFLOW_TEMPORAL_WORKER=false). Stops on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal

from leadflow_pool.db import metadata
from leadflow_pool.settings import PoolSettings
from leadflow_pool.temporal import TemporalWorker
from leadflow_shared.db import Database
from leadflow_shared.logging import configure_logging, get_logger

log = get_logger(__name__)


async def run() -> None:
    settings = PoolSettings().model_copy(update={"temporal_worker": True})
    configure_logging(settings.log_level, json=settings.log_json, service="pool-worker")
    db = Database(settings.pg_dsn, metadata, "/leadflow/pool-worker", pool_size=settings.pg_pool_size)
    worker = TemporalWorker(settings, db)
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stopping.set)
    await worker.start()
    log.info("pool worker started", task_queue=settings.pool_task_queue)
    await stopping.wait()
    await worker.stop()
    await db.dispose()
    log.info("pool worker stopped")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
