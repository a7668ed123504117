"""pool's Temporal worker as its own process (`python -m leadflow_pool.worker`), beside a service process that
only starts workflows (LEADFLOW_TEMPORAL_WORKER=false): an ownership still keeps its deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from leadflow_localstack.testing import eventually
from leadflow_pool.domain.model import OwnershipTerms
from leadflow_pool.settings import PoolSettings
from leadflow_pool.tables import pool_leads
from leadflow_pool.temporal import TemporalWorker
from leadflow_shared.db import Database


async def test_the_worker_process_recycles_what_an_api_only_process_started(
    db: Database, service_env: dict[str, str], tmp_path: object
) -> None:
    lead_id = uuid.uuid4()
    async with db.uow() as uow:
        await uow.session.execute(pool_leads.insert().values(
            lead_id=lead_id, pool_id="w-pool", status="owned", owner_id="rep-w", ownership_seq=1))
        await uow.commit()
    worker = subprocess.Popen([sys.executable, "-m", "leadflow_pool.worker"], env={**os.environ, **service_env})
    api_only = TemporalWorker(PoolSettings(**{"temporal_worker": False, "pool_task_queue":
                                              service_env["LEADFLOW_POOL_TASK_QUEUE"],
                                              "temporal_address": service_env["LEADFLOW_TEMPORAL_ADDRESS"],
                                              "reactivation_enabled": False}), db)
    await api_only.start()
    try:
        due = datetime.now(UTC) + timedelta(seconds=3)
        await api_only.start_ownership(OwnershipTerms(
            lead_id=str(lead_id), owner_id="rep-w", pool_id="w-pool", seq=1, first_follow_up=due, inactivity=None,
            conversion=None, protected_until=None, remind_before_s=0))

        async def recycled() -> bool:
            async with db.uow() as uow:
                status = await uow.session.scalar(select(pool_leads.c.status).where(pool_leads.c.lead_id == lead_id))
            return status == "in_pool"

        assert await eventually(recycled, timeout_s=60)
        await api_only.check()  # an API-only process is ready with its client alone
    finally:
        await api_only.stop()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
