"""The ownership workflow on Temporal's time-skipping test server, against real Postgres: deadlines across a
weekend, a holiday and a make-up working day, the reminder before and the recycle at the deadline, follow-ups
that move the clock, the claim's protection, an end by release, continue-as-new, a worker killed mid-workflow,
and the replay of recorded histories (workflow code must stay deterministic)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from leadflow_pool.domain.calendar import CHINA, BusinessCalendar, CalendarYear
from leadflow_pool.domain.model import OwnershipTerms, ownership_deadlines
from leadflow_pool.domain.pools import PoolRules
from leadflow_pool.ownership_signals import FollowedUp
from leadflow_pool.tables import pool_leads, timeline
from leadflow_pool.temporal import WORKFLOWS, activities_of
from leadflow_pool.workflows import OwnershipWorkflow
from leadflow_shared.db import Database

HISTORIES = Path(__file__).parent / "histories"


def worker(env: WorkflowEnvironment, db: Database, queue: str) -> Worker:
    return Worker(env.client, task_queue=queue, workflows=WORKFLOWS, activities=activities_of(db))


async def owned_lead(db: Database, owner: str, seq: int = 1, grade: str = "B") -> uuid.UUID:
    lead_id = uuid.uuid4()
    async with db.uow() as uow:
        await uow.session.execute(pool_leads.insert().values(
            lead_id=lead_id, pool_id="wf-pool", status="owned", owner_id=owner, ownership_seq=seq, grade=grade))
        await uow.commit()
    return lead_id


async def state(db: Database, lead_id: uuid.UUID) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    async with db.uow() as uow:
        row = (await uow.session.execute(select(pool_leads).where(pool_leads.c.lead_id == lead_id))).mappings().one()
        events = (await uow.session.execute(select(timeline.c.kind, timeline.c.detail)
                                            .where(timeline.c.lead_id == lead_id).order_by(timeline.c.id))).all()
    return dict(row), [(k, d) for k, d in events]


def terms(lead_id: uuid.UUID, owner: str, **deadlines: Any) -> OwnershipTerms:
    values: dict[str, Any] = dict(first_follow_up=None, inactivity=None, conversion=None, protected_until=None,
                                  remind_before_s=4 * 3600)
    values.update(deadlines)
    return OwnershipTerms(lead_id=str(lead_id), owner_id=owner, pool_id="wf-pool", seq=1, **values)


async def start(env: WorkflowEnvironment, t: OwnershipTerms, queue: str) -> WorkflowHandle[Any, Any]:
    return await env.client.start_workflow(OwnershipWorkflow.run, t, id=t.workflow_id, task_queue=queue)


async def closed_at(handle: WorkflowHandle[Any, Any]) -> datetime:
    described = await handle.describe()
    assert described.close_time is not None
    return described.close_time


def save_history(name: str, history_json: str) -> None:
    """Record a scenario's history for the replay test (LEADFLOW_RECORD_HISTORIES=1 when the workflow changes
    on purpose, with a new file name, so the old histories keep guarding the old behaviour)."""
    if os.environ.get("LEADFLOW_RECORD_HISTORIES") == "1":
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(history_json, encoding="utf-8")


def calendar_around(day: date) -> tuple[BusinessCalendar, date, date]:
    """A calendar with a public holiday on the first weekday after `day` and a make-up working day (调休) on the
    Saturday after it: whatever day the tests run, the deadline crosses a weekend, a holiday and a 调休."""
    holiday = next(day + timedelta(days=i) for i in range(1, 8) if (day + timedelta(days=i)).weekday() < 5)
    makeup = next(holiday + timedelta(days=i) for i in range(1, 8) if (holiday + timedelta(days=i)).weekday() == 5)
    years = {holiday.year, makeup.year}
    calendar = BusinessCalendar.of([CalendarYear(y, "test", {holiday: "节日"} if holiday.year == y else {},
                                                 {makeup: "调休"} if makeup.year == y else {}) for y in years])
    return calendar, holiday, makeup


async def test_the_deadline_crosses_a_weekend_a_holiday_and_a_make_up_day_then_recycles(
    time_skipping: WorkflowEnvironment, db: Database
) -> None:
    now = await time_skipping.get_current_time()
    calendar, holiday, makeup = calendar_around(now.astimezone(CHINA).date())
    # the oracle: the first ten days after today, which of them are business days, by hand
    days = [now.astimezone(CHINA).date() + timedelta(days=i) for i in range(1, 15)]
    business = [d for d in days if (d.weekday() < 5 and d != holiday) or d == makeup]
    rules = PoolRules(first_follow_up_days=6, conversion_days=30)
    deadlines = ownership_deadlines(None, rules, "B", None, now, calendar, claimed=False)
    expected = datetime.combine(business[5], now.astimezone(CHINA).timetz()).astimezone(now.tzinfo)
    assert deadlines.first_follow_up == expected and makeup <= business[5]

    lead_id = await owned_lead(db, "rep-a")
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    t = terms(lead_id, "rep-a", first_follow_up=deadlines.first_follow_up, conversion=deadlines.conversion)
    async with worker(time_skipping, db, queue):
        handle = await start(time_skipping, t, queue)
        assert await handle.result() == "recycled:first_follow_up"
    fired = await closed_at(handle)
    assert timedelta(0) <= fired - deadlines.first_follow_up < timedelta(minutes=1)
    row, events = await state(db, lead_id)
    assert (row["status"], row["owner_id"], row["previous_owner_ids"]) == ("in_pool", None, ["rep-a"])
    assert [k for k, _ in events] == ["reminder", "recycled"]
    assert events[0][1]["kind"] == "first_follow_up" and events[1][1]["reason"] == "first_follow_up_overdue"
    history = await handle.fetch_history()
    save_history("recycled_after_reminder", history.to_json())
    await Replayer(workflows=[OwnershipWorkflow]).replay_workflow(history)


async def test_a_follow_up_moves_the_clock_to_inactivity(time_skipping: WorkflowEnvironment, db: Database) -> None:
    now = await time_skipping.get_current_time()
    lead_id = await owned_lead(db, "rep-b")
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    first = now + timedelta(days=2)
    t = terms(lead_id, "rep-b", first_follow_up=first, conversion=now + timedelta(days=40))
    async with worker(time_skipping, db, queue):
        handle = await start(time_skipping, t, queue)
        await time_skipping.sleep(timedelta(days=1))
        inactivity = await time_skipping.get_current_time() + timedelta(days=5)
        await handle.signal(OwnershipWorkflow.followed_up, FollowedUp(at=now + timedelta(days=1),
                                                                       inactivity_deadline=inactivity))
        assert (await handle.query(OwnershipWorkflow.state))["next_deadline_kind"] == "inactivity"
        assert await handle.result() == "recycled:inactivity"
    assert timedelta(0) <= await closed_at(handle) - inactivity < timedelta(minutes=1)
    _, events = await state(db, lead_id)
    assert [(k, d.get("kind")) for k, d in events][:1] == [("reminder", "inactivity")]
    save_history("followed_up_then_inactive", (await handle.fetch_history()).to_json())


async def test_a_claim_is_protected_until_its_protection_ends(time_skipping: WorkflowEnvironment, db: Database) -> None:
    now = await time_skipping.get_current_time()
    lead_id = await owned_lead(db, "rep-c")
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    protected = now + timedelta(days=3)
    t = terms(lead_id, "rep-c", first_follow_up=now + timedelta(days=1), protected_until=protected,
              remind_before_s=0)
    async with worker(time_skipping, db, queue):
        handle = await start(time_skipping, t, queue)
        assert await handle.result() == "recycled:first_follow_up"
    assert timedelta(0) <= await closed_at(handle) - protected < timedelta(minutes=1)


async def test_release_ends_the_workflow_and_a_stale_clock_changes_nothing(
    time_skipping: WorkflowEnvironment, db: Database
) -> None:
    now = await time_skipping.get_current_time()
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    released = await owned_lead(db, "rep-d")
    moved_on = await owned_lead(db, "rep-e", seq=2)  # its first ownership's clock is stale
    async with worker(time_skipping, db, queue):
        handle = await start(time_skipping, terms(released, "rep-d", first_follow_up=now + timedelta(days=2)), queue)
        await handle.signal(OwnershipWorkflow.ended, "released")
        assert await handle.result() == "ended:released"
        stale = await start(time_skipping, terms(moved_on, "rep-e", first_follow_up=now + timedelta(hours=1),
                                                 remind_before_s=600), queue)
        assert await stale.result() == "kept"
        save_history("ended_by_release", (await handle.fetch_history()).to_json())
    row, events = await state(db, moved_on)
    assert (row["status"], row["owner_id"], events) == ("owned", "rep-e", [])


async def test_a_long_history_continues_as_new_and_keeps_the_deadlines(
    time_skipping: WorkflowEnvironment, db: Database
) -> None:
    now = await time_skipping.get_current_time()
    lead_id = await owned_lead(db, "rep-f")
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    t = terms(lead_id, "rep-f", first_follow_up=now + timedelta(days=1), conversion=now + timedelta(days=60),
              history_limit=12)
    async with worker(time_skipping, db, queue):
        handle = await start(time_skipping, t, queue)
        for day in range(1, 9):
            await handle.signal(OwnershipWorkflow.followed_up, FollowedUp(
                at=now + timedelta(days=day), inactivity_deadline=now + timedelta(days=day + 3)))
            await time_skipping.sleep(timedelta(hours=12))
        last = now + timedelta(days=11)
        assert await handle.result() == "recycled:inactivity"
    assert timedelta(0) <= await closed_at(handle) - last < timedelta(minutes=1)
    first_run = await env_history(time_skipping, t.workflow_id, handle.first_execution_run_id)
    assert any(e.HasField("workflow_execution_continued_as_new_event_attributes") for e in first_run.events)


async def env_history(env: WorkflowEnvironment, workflow_id: str, run_id: str | None) -> Any:
    return await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()


WORKER_SCRIPT = """
import asyncio, sys
from temporalio.client import Client
from temporalio.worker import Worker
from leadflow_pool.db import metadata
from leadflow_pool.temporal import WORKFLOWS, activities_of
from leadflow_shared.db import Database

async def main(target, queue, dsn):
    client = await Client.connect(target)
    db = Database(dsn, metadata, "/tests/pool-worker", pool_size=1)
    # no sticky cache: the time-skipping server does not move a dead worker's sticky tasks back to the queue
    async with Worker(client, task_queue=queue, workflows=WORKFLOWS, activities=activities_of(db),
                      max_cached_workflows=0):
        print("ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_worker_killed_mid_workflow_is_replaced_and_the_deadline_still_fires(
    time_skipping: WorkflowEnvironment, db: Database, leadflow_env: dict[str, str], tmp_path: Path
) -> None:
    now = await time_skipping.get_current_time()
    lead_id = await owned_lead(db, "rep-g")
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    target = time_skipping.client.service_client.config.target_host
    process = subprocess.Popen([sys.executable, str(script), target, queue, leadflow_env["LEADFLOW_PG_DSN"]],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        handle = await start(time_skipping, terms(lead_id, "rep-g", first_follow_up=now + timedelta(days=2),
                                                  remind_before_s=3600), queue)
        await handle.query(OwnershipWorkflow.state)  # the killed worker has run it: it is mid-workflow
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    async with worker(time_skipping, db, queue):  # a new worker (after a deploy or a crash) takes over
        assert await handle.result() == "recycled:first_follow_up"
    _, events = await state(db, lead_id)
    assert [k for k, _ in events] == ["reminder", "recycled"]


@pytest.mark.parametrize("recorded", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_histories_replay_with_todays_code(recorded: Path) -> None:
    """Histories recorded from earlier versions' runs: a change to the workflow that would break running
    workflows (non-determinism) fails here."""
    from temporalio.client import WorkflowHistory

    data = json.loads(recorded.read_text(encoding="utf-8"))
    history = WorkflowHistory.from_json(recorded.stem, data)
    await Replayer(workflows=[OwnershipWorkflow]).replay_workflow(history)


def test_histories_are_recorded() -> None:
    assert len(list(HISTORIES.glob("*.json"))) >= 3, "record them: LEADFLOW_RECORD_HISTORIES=1 pytest this module"
