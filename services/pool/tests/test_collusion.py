"""串通 on Postgres: a scripted swap history in the timeline is flagged once (and again only when it grows), with
leads.collusion_suspected.v1 in the outbox; one replica scans at a time; a flagged pair's claims are blocked where
a pool says so; managers read the flags as JSON or CSV, reps may not."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text

from leadflow_pool.app import service
from leadflow_pool.collusion import SCAN_LOCK, CollusionWatch, collusion_blocks, detect
from leadflow_pool.db import record, store_pools
from leadflow_pool.domain.pools import parse_pools
from leadflow_pool.settings import PoolSettings
from leadflow_pool.tables import pool_leads
from leadflow_shared.db import Database

Token = Callable[..., str]
TOPIC = "leads.collusion_suspected.v1"


@pytest.fixture
def settings(settings_env: dict[str, str]) -> PoolSettings:
    return PoolSettings()


def reps(*names: str) -> list[str]:
    """Rep ids of this test's own: the timeline and the flags are the session's."""
    tag = uuid.uuid4().hex[:6]
    return [f"{name}-{tag}" for name in names]


async def swap(db: Database, lead: uuid.UUID, dropper: str, claimer: str, at: datetime, *, hours: float = 2,
               drop: str = "released") -> None:
    async with db.uow() as uow:
        await record(uow.session, lead, drop, at, actor=dropper, owner_id=dropper, pool_id="public")
        await record(uow.session, lead, "claimed", at + timedelta(hours=hours), actor=claimer, owner_id=claimer,
                     pool_id="public")
        await uow.commit()


async def published(db: Database, *among: str) -> list[dict[str, Any]]:
    """The collusion events in the outbox that name these reps, oldest first, with their key."""
    async with db.uow() as uow:
        rows = (await uow.session.execute(
            text("SELECT key, payload FROM pool.outbox WHERE topic = :topic ORDER BY id"), {"topic": TOPIC})).all()
    events = [{"key": key, **json.loads(payload)["data"]} for key, payload in rows]
    return [e for e in events if {e["released_by"], e["claimed_by"]} & set(among)]


async def scan(db: Database, now: datetime, settings: PoolSettings) -> list[Any]:
    async with db.uow() as uow:
        found = await detect(uow, now, settings)
        await uow.commit()
    return found


async def test_a_swap_history_is_flagged_once_and_again_when_it_grows(db: Database, settings: PoolSettings) -> None:
    wang, zhou, li = reps("wang", "zhou", "li")
    now = datetime.now(UTC)
    leads = [uuid.uuid4() for _ in range(5)]
    await swap(db, leads[0], wang, zhou, now - timedelta(days=20))
    await swap(db, leads[1], wang, zhou, now - timedelta(days=10), drop="recycled")
    await swap(db, leads[2], wang, li, now - timedelta(days=6))  # someone else: not the pair's
    await swap(db, leads[3], wang, zhou, now - timedelta(days=5), hours=80)  # too slow: no handover
    await scan(db, now, settings)
    assert await published(db, wang, zhou, li) == []

    await swap(db, leads[4], wang, zhou, now - timedelta(days=3))
    found = [s for s in await scan(db, now, settings) if s.released_by == wang]
    assert [(s.kind, s.claimed_by, s.occurrences) for s in found] == [("pair", zhou, 3)]
    [event] = await published(db, wang)
    assert (event["kind"], event["released_by"], event["claimed_by"]) == ("pair", wang, zhou)
    assert event["lead_ids"] == [str(leads[0]), str(leads[1]), str(leads[4])] and event["key"] == str(leads[0])
    assert (event["occurrences"], event["window_days"]) == (3, 30)

    await scan(db, now, settings)  # the same history again: nothing new to say
    assert len(await published(db, wang)) == 1

    later = now + timedelta(days=1)
    await swap(db, leads[3], wang, zhou, now + timedelta(hours=1))
    await scan(db, later, settings)
    grown = (await published(db, wang))[-1]
    assert grown["occurrences"] == 4 and grown["lead_ids"] == [str(x) for x in (leads[0], leads[1], leads[4], leads[3])]
    async with db.uow() as uow:
        flag = (await uow.session.execute(text(
            "SELECT occurrences, first_at, last_at FROM pool.collusion_flags WHERE released_by = :r"),
            {"r": wang})).one()
    assert flag.occurrences == 4
    assert abs(flag.first_at - (now - timedelta(days=20, hours=-2))) < timedelta(seconds=1)
    assert abs(flag.last_at - (now + timedelta(hours=3))) < timedelta(seconds=1)


async def test_a_lead_ping_ponged_between_two_reps_blocks_their_claims_of_each_others_leads(
        db: Database, settings: PoolSettings) -> None:
    wang, zhou, li = reps("wang", "zhou", "li")
    now, lead = datetime.now(UTC), uuid.uuid4()
    await swap(db, lead, wang, zhou, now - timedelta(days=8))
    await swap(db, lead, zhou, wang, now - timedelta(days=4))
    async with db.uow() as uow:
        assert not await collusion_blocks(uow.session, zhou, wang)
    await scan(db, now, settings)
    [event] = await published(db, wang, zhou)
    assert (event["kind"], sorted([event["released_by"], event["claimed_by"]])) == ("ping_pong", sorted([wang, zhou]))
    async with db.uow() as uow:
        assert await collusion_blocks(uow.session, zhou, wang)
        assert await collusion_blocks(uow.session, wang, zhou)
        assert not await collusion_blocks(uow.session, li, wang)
        assert not await collusion_blocks(uow.session, zhou, None)


async def test_a_pair_flag_blocks_one_direction_only(db: Database, settings: PoolSettings) -> None:
    wang, zhou = reps("wang", "zhou")
    now = datetime.now(UTC)
    for days in (9, 6, 3):
        await swap(db, uuid.uuid4(), wang, zhou, now - timedelta(days=days))
    await scan(db, now, settings)
    async with db.uow() as uow:
        assert await collusion_blocks(uow.session, zhou, wang)  # zhou takes what wang drops
        assert not await collusion_blocks(uow.session, wang, zhou)


async def test_one_replica_scans_at_a_time(db: Database, settings: PoolSettings) -> None:
    wang, zhou = reps("wang", "zhou")
    now = datetime.now(UTC)
    for days in (9, 6, 3):
        await swap(db, uuid.uuid4(), wang, zhou, now - timedelta(days=days))
    watch = CollusionWatch(settings, db)
    async with db.uow() as other:  # another replica's scan, under way
        assert await other.session.scalar(select(func.pg_try_advisory_xact_lock(SCAN_LOCK)))
        assert await watch.scan() is None
    assert await published(db, wang) == []
    found = await watch.scan()
    assert found is not None and any(s.released_by == wang for s in found)
    assert len(await published(db, wang)) == 1


async def test_the_watch_scans_on_its_own(db: Database, settings: PoolSettings) -> None:
    wang, zhou = reps("wang", "zhou")
    now = datetime.now(UTC)
    for days in (9, 6, 3):
        await swap(db, uuid.uuid4(), wang, zhou, now - timedelta(days=days))
    watch = CollusionWatch(settings.model_copy(update={"collusion_scan_s": 0.05}), db)
    await watch.start()
    try:
        await watch.check()
        async with asyncio.timeout(10):
            while not await published(db, wang):
                await asyncio.sleep(0.05)
    finally:
        await watch.stop()
    with pytest.raises(RuntimeError):
        await watch.check()


@pytest.fixture
async def api(settings_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    app = service.create_app(PoolSettings())
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_managers_read_the_flags_as_json_or_csv(api: AsyncTestClient[Any], db: Database,
                                                      settings: PoolSettings, staff_token: Token) -> None:
    wang, zhou, li = reps("wang", "zhou", "li")
    now = datetime.now(UTC)
    pair_leads = [uuid.uuid4() for _ in range(3)]
    for lead, days in zip(pair_leads, (9, 6, 3)):
        await swap(db, lead, wang, zhou, now - timedelta(days=days))
    pong = uuid.uuid4()
    await swap(db, pong, li, zhou, now - timedelta(days=2))
    await swap(db, pong, zhou, li, now - timedelta(days=1))
    await scan(db, now, settings)
    manager = {"Authorization": staff_token("boss-east", "manager", teams=["east"])}

    reply = await api.get("/v1/reports/collusion", params={"rep": zhou}, headers=manager)
    assert reply.status_code == 200, reply.text
    flags = reply.json()["flags"]
    assert [(f["kind"], f["occurrences"]) for f in flags] == [("ping_pong", 2), ("pair", 3)]  # latest first
    assert flags[1]["released_by"] == wang and flags[1]["lead_ids"] == [str(x) for x in pair_leads]
    only_li = await api.get("/v1/reports/collusion", params={"rep": li}, headers=manager)
    assert [f["kind"] for f in only_li.json()["flags"]] == ["ping_pong"]
    before = await api.get("/v1/reports/collusion", headers=manager, params={
        "rep": zhou, "to": (now - timedelta(days=8)).isoformat()})
    assert [f["kind"] for f in before.json()["flags"]] == ["pair"]  # the ping-pong began later
    after = await api.get("/v1/reports/collusion", headers=manager, params={
        "rep": zhou, "from": (now - timedelta(days=2)).isoformat()})
    assert [f["kind"] for f in after.json()["flags"]] == ["ping_pong"]  # the pair's last handover was before
    assert (await api.get("/v1/reports/collusion", headers=manager, params={
        "rep": zhou, "from": (now + timedelta(hours=1)).isoformat()})).json()["flags"] == []

    table = await api.get("/v1/reports/collusion", params={"rep": wang, "format": "csv"},
                          headers={"Authorization": staff_token("admin-1", "admin")})
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(table.text)))
    assert (row["kind"], row["released_by"], row["claimed_by"], row["occurrences"]) == ("pair", wang, zhou, "3")
    assert row["lead_ids"].split() == [str(x) for x in pair_leads]
    assert datetime.fromisoformat(row["last_at"]) > datetime.fromisoformat(row["first_at"])

    refused = await api.get("/v1/reports/collusion", headers={"Authorization": staff_token(zhou, "rep", teams=["east"])})
    assert refused.status_code == 403
    assert (await api.get("/v1/reports/collusion", params={"format": "xml"}, headers=manager)).status_code == 400


async def test_a_pool_that_blocks_collusion_refuses_the_flagged_claimer(
        api: AsyncTestClient[Any], db: Database, settings: PoolSettings, staff_token: Token) -> None:
    wang, zhou, li = reps("wang", "zhou", "li")
    pool = f"east-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    for days in (9, 6, 3):
        await swap(db, uuid.uuid4(), wang, zhou, now - timedelta(days=days))
    await scan(db, now, settings)
    dropped = [uuid.uuid4(), uuid.uuid4()]
    async with db.uow() as uow:
        await store_pools(uow.session, parse_pools({"default_pool": pool, "pools": [
            {"id": pool, "claimers": {"teams": ["east"]}, "viewers": {"teams": ["east"]},
             "rules": {"block_collusion": True}}]}), "test")
        await uow.session.execute(pool_leads.insert(), [
            {"lead_id": lead, "pool_id": pool, "status": "in_pool", "pooled_at": now, "previous_owner_ids": [wang]}
            for lead in dropped])
        await uow.commit()
    as_zhou = {"Authorization": staff_token(zhou, "rep", teams=["east"])}
    refused = await api.post(f"/v1/leads/{dropped[0]}/claim", headers=as_zhou)
    assert refused.status_code == 409 and "collusion" in refused.text, refused.text
    taken = await api.post(f"/v1/leads/{dropped[1]}/claim",
                           headers={"Authorization": staff_token(li, "rep", teams=["east"])})
    assert taken.status_code in (200, 201), taken.text
