"""库存线索激活 against real Postgres: the daily cap (Beijing date), the touch interval, do-not-contact, idle
since pooled (or received), oldest first, one event per candidate; once through ReactivationWorkflow on the
time-skipping server; and the schedule made, brought up to date and left paused on a real Temporal."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from leadflow_localstack.testing import eventually
from leadflow_pool.activities import ReactivationActivities, ReactivationRequest
from leadflow_pool.db import metadata
from leadflow_pool.domain.calendar import CHINA
from leadflow_pool.reactivation import ReactivationPolicy
from leadflow_pool.settings import PoolSettings
from leadflow_pool.tables import pool_leads, reactivation_days
from leadflow_pool.temporal import WORKFLOWS, TemporalWorker, activities_of
from leadflow_pool.workflows import ReactivationWorkflow
from leadflow_shared.db import Database

# Runs "in" 2001 (an instant of each test's own): the leads other tests leave, pooled in this decade, are
# not idle then, and each test's day of the cap is its own.
EPOCH = datetime(2001, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def leads(db: Database) -> AsyncIterator[list[uuid.UUID]]:
    """The test's leads, removed afterwards (so a later run picking every idle lead does not see them)."""
    made: list[uuid.UUID] = []
    yield made
    async with db.uow() as uow:
        await uow.session.execute(pool_leads.delete().where(pool_leads.c.lead_id.in_(made)))
        await uow.commit()


async def lead(db: Database, made: list[uuid.UUID], *, idle_since: datetime, **fields: Any) -> uuid.UUID:
    lead_id = uuid.uuid4()
    values: dict[str, Any] = {"lead_id": lead_id, "pool_id": "stock", "status": "in_pool", "pooled_at": idle_since,
                              "name": "客户", "mobile": "+8613800000000", "grade": "C", **fields}
    async with db.uow() as uow:
        await uow.session.execute(pool_leads.insert().values(**values))
        await uow.commit()
    made.append(lead_id)
    return lead_id


async def select_at(db: Database, at: datetime, **policy: int) -> int:
    return await ReactivationActivities(db).select_reactivation_candidates(
        ReactivationRequest(ReactivationPolicy(**policy), at))


async def touched(db: Database, ids: list[uuid.UUID]) -> dict[uuid.UUID, datetime | None]:
    async with db.uow() as uow:
        rows = (await uow.session.execute(select(pool_leads.c.lead_id, pool_leads.c.last_touched_at)
                                          .where(pool_leads.c.lead_id.in_(ids)))).all()
    return {r.lead_id: r.last_touched_at for r in rows}


async def selected_on(db: Database, at: datetime) -> int | None:
    async with db.uow() as uow:
        return await uow.session.scalar(select(reactivation_days.c.selected)
                                        .where(reactivation_days.c.day == at.astimezone(CHINA).date()))


async def events(db: Database, lead_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    async with db.uow() as uow:
        rows = (await uow.session.execute(
            metadata.tables["pool.outbox"].select().where(metadata.tables["pool.outbox"].c.key == str(lead_id))
        )).mappings().all()
    return [(r["topic"], json.loads(r["payload"])["data"] if isinstance(r["payload"], str) else r["payload"]["data"])
            for r in rows]


async def test_the_daily_cap_holds_per_beijing_day_oldest_first(db: Database, leads: list[uuid.UUID]) -> None:
    at = EPOCH
    ids = [await lead(db, leads, idle_since=at - timedelta(days=100 - i)) for i in range(5)]  # ids[0] the oldest
    assert await select_at(db, at, idle_days=30, min_interval_days=1, daily_cap=3) == 3
    first = await touched(db, ids)
    assert [first[i] is not None for i in ids] == [True, True, True, False, False]
    assert await selected_on(db, at) == 3
    assert await select_at(db, at + timedelta(hours=1), idle_days=30, min_interval_days=1, daily_cap=3) == 0
    # 23:30 UTC is the next morning in Beijing: a new day, and the touched three wait their interval
    next_day = at.replace(hour=23, minute=30)
    assert await select_at(db, next_day, idle_days=30, min_interval_days=1, daily_cap=3) == 2
    assert await selected_on(db, next_day) == 2
    assert all(t is not None for t in (await touched(db, ids)).values())


async def test_do_not_contact_the_touch_interval_and_idleness_are_honoured(db: Database,
                                                                          leads: list[uuid.UUID]) -> None:
    at = EPOCH + timedelta(days=10)
    old = at - timedelta(days=200)
    wanted = await lead(db, leads, idle_since=old, email="a@example.com")
    received_only = await lead(db, leads, idle_since=None, received_at=old - timedelta(days=5))  # type: ignore[arg-type]
    touched_long_ago = await lead(db, leads, idle_since=old, last_touched_at=at - timedelta(days=31))
    refused = [
        await lead(db, leads, idle_since=old, do_not_contact=True),
        await lead(db, leads, idle_since=old, last_touched_at=at - timedelta(days=29)),
        await lead(db, leads, idle_since=at - timedelta(days=29)),  # not idle long enough
        await lead(db, leads, idle_since=old, status="owned", owner_id="rep-a"),
        await lead(db, leads, idle_since=old, status="nurture"),
    ]
    assert await select_at(db, at, idle_days=30, min_interval_days=30, daily_cap=100) == 3
    marks = await touched(db, [wanted, received_only, touched_long_ago, *refused])
    assert {marks[i] for i in (wanted, received_only, touched_long_ago)} == {at}
    assert [marks[i] for i in refused[:1] + refused[2:]] == [None, None, None, None]
    assert marks[refused[1]] == at - timedelta(days=29)
    [(topic, data)] = await events(db, wanted)
    assert topic == "leads.reactivation_candidates.v1"
    assert (data["pool_id"], data["idle_days"], data["grade"], data["email"]) == ("stock", 200, "C", "a@example.com")
    assert (await events(db, received_only))[0][1]["idle_days"] == 205
    assert await events(db, refused[0]) == []


async def test_runs_at_once_share_the_cap(db: Database, leads: list[uuid.UUID]) -> None:
    at = EPOCH + timedelta(days=20)
    for i in range(8):
        await lead(db, leads, idle_since=at - timedelta(days=60 + i))
    runs = await asyncio.gather(*(select_at(db, at, idle_days=30, min_interval_days=30, daily_cap=5)
                                  for _ in range(4)))
    assert sum(runs) == 5 and await selected_on(db, at) == 5


async def test_once_through_the_workflow(time_skipping: WorkflowEnvironment, db: Database,
                                         leads: list[uuid.UUID]) -> None:
    now = await time_skipping.get_current_time()
    ids = [await lead(db, leads, idle_since=now - timedelta(days=400 + i)) for i in range(3)]
    dnc = await lead(db, leads, idle_since=now - timedelta(days=400), do_not_contact=True)
    queue = f"reactivation-{uuid.uuid4().hex[:6]}"
    async with Worker(time_skipping.client, task_queue=queue, workflows=WORKFLOWS, activities=activities_of(db)):
        picked = await time_skipping.client.execute_workflow(
            ReactivationWorkflow.run, ReactivationPolicy(idle_days=30, min_interval_days=30, daily_cap=10_000),
            id=f"pool-reactivation-{queue}", task_queue=queue)
    assert picked >= 3  # ours, and any lead another test left idle that long
    marks = await touched(db, [*ids, dnc])
    assert all(marks[i] is not None for i in ids) and marks[dnc] is None
    assert [topic for topic, _ in await events(db, ids[0])] == ["leads.reactivation_candidates.v1"]


async def _described(handle: ScheduleHandle) -> ScheduleDescription | None:
    try:
        return await handle.describe()
    except RPCError:
        return None


async def test_the_schedule_is_made_once_updated_to_the_settings_and_a_pause_kept(
        settings_env: dict[str, str], db: Database) -> None:
    worker = TemporalWorker(PoolSettings(reactivation_enabled=True, reactivation_interval_s=600,
                                         reactivation_daily_cap=50), db)
    client = await Client.connect(settings_env["LEADFLOW_TEMPORAL_ADDRESS"])
    handle = client.get_schedule_handle(worker.reactivation_schedule_id)
    assert worker.reactivation_schedule_id == f"pool-reactivation-{settings_env['LEADFLOW_POOL_TASK_QUEUE']}"
    await worker.start()  # made once connected
    try:
        described = await eventually(lambda: _described(handle), timeout_s=30)
        assert described is not None, "the worker made no schedule"
        await worker.stop()
        await worker.ensure_reactivation_schedule(client)  # a second replica: the same schedule
        first = (await handle.describe()).schedule
        assert first.spec.intervals == [ScheduleIntervalSpec(every=timedelta(seconds=600))]
        await handle.pause(note="marketing asked to wait")
        changed = TemporalWorker(PoolSettings(reactivation_interval_s=1800, reactivation_daily_cap=80), db)
        await changed.ensure_reactivation_schedule(client)
        described = (await handle.describe()).schedule
        assert described.spec.intervals == [ScheduleIntervalSpec(every=timedelta(seconds=1800))]
        assert described.state.paused and described.state.note == "marketing asked to wait"
        action = described.action
        assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "Reactivation"
        assert action.task_queue == settings_env["LEADFLOW_POOL_TASK_QUEUE"]
        [policy] = await client.data_converter.decode(action.args, [ReactivationPolicy])
        assert policy == ReactivationPolicy(idle_days=30, min_interval_days=30, daily_cap=80)
    finally:
        await worker.stop()
        await handle.delete()


async def test_a_throwaway_environment_makes_no_schedule(settings_env: dict[str, str], db: Database) -> None:
    worker = TemporalWorker(PoolSettings(reactivation_enabled=False), db)
    await worker.start()
    try:
        client = await worker.connected_client(timeout_s=30)
        await asyncio.sleep(1)
        assert await _described(client.get_schedule_handle(worker.reactivation_schedule_id)) is None
    finally:
        await worker.stop()
