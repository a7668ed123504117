"""Follow-ups, visits, SDR verdicts, timelines and tasks as staff use them through pool's API, on the real
database; the ownership workflows are a recorder here (what they are told is checked, not Temporal)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from leadflow_pool.app import service
from leadflow_pool.bootstrap import bootstrap
from leadflow_pool.db import store_pools
from leadflow_pool.domain.model import OwnershipTerms
from leadflow_pool.domain.pools import parse_pools
from leadflow_pool.ownership_signals import FollowedUp
from leadflow_pool.settings import PoolSettings
from leadflow_pool.tables import follow_ups, pool_leads, tasks
from leadflow_shared.db import Database

Token = Callable[..., str]
HANGZHOU = (30.27415, 120.15515)
SHANGHAI = (31.23042, 121.47370)


class ClockRecorder:
    """Stands in for the TemporalWorker: records what the ownership workflows are told."""

    name = "temporal"

    def __init__(self) -> None:
        self.follow_ups: list[tuple[OwnershipTerms, FollowedUp]] = []
        self.ended: list[tuple[str, str]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def check(self) -> None: ...

    async def signal_follow_up(self, terms: OwnershipTerms, followed_up: FollowedUp) -> None:
        self.follow_ups.append((terms, followed_up))

    async def end_ownership(self, workflow_id: str, reason: str) -> None:
        self.ended.append((workflow_id, reason))


@pytest.fixture
def clock() -> ClockRecorder:
    return ClockRecorder()


@pytest.fixture
async def api(settings_env: dict[str, str], clock: ClockRecorder) -> AsyncIterator[AsyncTestClient[Any]]:
    """pool's app, its Temporal calls recorded instead of made."""
    app_service = dataclasses.replace(
        service, bootstrap=lambda settings, db: dataclasses.replace(bootstrap(settings, db), temporal=clock),
        subscriptions=lambda pool: [])
    async with AsyncTestClient(app=app_service.create_app(PoolSettings())) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def held_lead(db: Database, owner: str | None, *, team: str = "east", status: str = "owned",
                    previous: list[str] | None = None) -> uuid.UUID:
    now = datetime.now(UTC)
    lead_id = uuid.uuid4()
    async with db.uow() as uow:
        await uow.session.execute(pool_leads.insert().values(
            lead_id=lead_id, pool_id="public", owner_id=owner, status=status, team_id=team, ownership_seq=1,
            owner_since=now, owned_via="assigned", name="张三", grade="B",
            first_follow_up_deadline=now + timedelta(days=2), conversion_deadline=now + timedelta(days=40),
            next_deadline=now + timedelta(days=2), deadline_kind="first_follow_up",
            previous_owner_ids=previous or []))
        await uow.commit()
    return lead_id


async def lead_row(db: Database, lead_id: uuid.UUID) -> dict[str, Any]:
    async with db.uow() as uow:
        return dict((await uow.session.execute(select(pool_leads).where(pool_leads.c.lead_id == lead_id)))
                    .mappings().one())


async def outbox(env: dict[str, str], lead_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    conn = await asyncpg.connect(env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch("SELECT topic, payload FROM pool.outbox WHERE key = $1 ORDER BY id", str(lead_id))
    finally:
        await conn.close()
    return [(r["topic"], json.loads(r["payload"])["data"]) for r in rows]


def who(token: Token, name: str, role: str = "rep", team: str = "east", **headers: str) -> dict[str, str]:
    return {"Authorization": token(name, role, teams=[team]), **headers}


def visit(position: tuple[float, float], accuracy: float = 5.0) -> dict[str, Any]:
    return {"type": "visit", "outcome": "met", "note": "上门拜访",
            "location": {"latitude": position[0], "longitude": position[1], "accuracy_m": accuracy}}


async def test_a_follow_up_restarts_the_inactivity_clock_and_tells_the_workflow(
        api: AsyncTestClient[Any], db: Database, staff_token: Token, clock: ClockRecorder) -> None:
    wang = unique("rep-wang")
    lead = await held_lead(db, wang)
    next_time = datetime.now(UTC) + timedelta(days=3)
    reply = await api.post(f"/v1/leads/{lead}/follow-ups", headers=who(staff_token, wang), json={
        "type": "call", "note": "客户有兴趣", "outcome": "interested", "next_follow_up_at": next_time.isoformat()})
    assert reply.status_code == 201, reply.text
    body = reply.json()
    row = await lead_row(db, lead)
    assert row["last_follow_up_at"] is not None and row["inactivity_deadline"] is not None
    # five business days by default: at least a week of calendar days ahead, and the nearest deadline now
    assert row["inactivity_deadline"] - row["last_follow_up_at"] >= timedelta(days=5)
    assert (row["next_deadline"], row["deadline_kind"]) == (row["inactivity_deadline"], "inactivity")
    assert body["inactivity_deadline"] and body["deadline_kind"] == "inactivity" and body["location_flags"] == []
    [(terms, followed)] = clock.follow_ups
    assert terms.workflow_id == f"ownership-{lead}-1" and terms.owner_id == wang
    assert terms.first_follow_up is None and terms.inactivity == row["inactivity_deadline"]
    assert followed == FollowedUp(row["last_follow_up_at"], row["inactivity_deadline"])
    # the promised next follow-up is a task of the owner's, done by his next follow-up
    mine = (await api.get("/v1/me/tasks", headers=who(staff_token, wang))).json()["tasks"]
    assert [(t["lead_id"], t["kind"], t["overdue"]) for t in mine] == [(str(lead), "follow_up", False)]
    again = await api.post(f"/v1/leads/{lead}/follow-ups", headers=who(staff_token, wang), json={"type": "wechat"})
    assert again.status_code == 201 and again.json()["completed_tasks"] == 1
    assert (await api.get("/v1/me/tasks", headers=who(staff_token, wang))).json()["tasks"] == []


async def test_only_the_holder_or_his_manager_follows_a_lead_up(api: AsyncTestClient[Any], db: Database,
                                                               staff_token: Token, clock: ClockRecorder) -> None:
    wang, zhou = unique("rep-wang"), unique("rep-zhou")
    lead = await held_lead(db, wang)
    refused = await api.post(f"/v1/leads/{lead}/follow-ups", json={"type": "call"},
                             headers=who(staff_token, zhou, **{"Accept-Language": "zh-CN"}))
    assert refused.status_code == 403 and "不归您负责" in refused.json()["detail"]
    refused = await api.post(f"/v1/leads/{lead}/follow-ups", json={"type": "call"}, headers=who(staff_token, zhou))
    assert refused.status_code == 403 and "not yours" in refused.json()["detail"]
    elsewhere = who(staff_token, "boss-north", role="manager", team="north")
    assert (await api.post(f"/v1/leads/{lead}/follow-ups", json={"type": "call"}, headers=elsewhere)).status_code == 403
    boss = who(staff_token, "boss-east", role="manager", team="east")
    assert (await api.post(f"/v1/leads/{lead}/follow-ups", json={"type": "call"}, headers=boss)).status_code == 201
    pooled = await held_lead(db, None, status="in_pool")
    assert (await api.post(f"/v1/leads/{pooled}/follow-ups", json={"type": "call"}, headers=boss)).status_code == 409
    assert (await api.post(f"/v1/leads/{uuid.uuid4()}/follow-ups", json={"type": "call"},
                           headers=boss)).status_code == 404
    assert len(clock.follow_ups) == 1  # only the one recorded


async def test_visits_are_flagged_for_a_repeated_position_and_impossible_travel(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    wang = unique("rep-wang")
    first, second, third = [await held_lead(db, wang) for _ in range(3)]
    me = who(staff_token, wang)
    missing = await api.post(f"/v1/leads/{first}/follow-ups", json={"type": "visit"}, headers=me)
    assert missing.status_code == 422 and "location" in missing.json()["detail"]

    honest = await api.post(f"/v1/leads/{first}/follow-ups", json=visit(HANGZHOU), headers=me)
    assert honest.status_code == 201 and honest.json()["location_flags"] == [], honest.text
    replayed = await api.post(f"/v1/leads/{second}/follow-ups", json=visit(HANGZHOU), headers=me)
    assert replayed.json()["location_flags"] == ["repeated_position"]
    teleported = await api.post(f"/v1/leads/{third}/follow-ups", json=visit(SHANGHAI), headers=me)
    assert teleported.json()["location_flags"] == ["impossible_travel"]  # 165 km in a few seconds
    async with db.uow() as uow:
        stored = (await uow.session.execute(select(follow_ups.c.lead_id, follow_ups.c.location_flags)
                                            .where(follow_ups.c.staff_id == wang))).all()
    assert dict(stored) == {first: [], second: ["repeated_position"], third: ["impossible_travel"]}

    assert (await api.get("/v1/reports/mock-locations", headers=me)).status_code == 403
    boss = who(staff_token, "boss-east", role="manager")
    report = (await api.get(f"/v1/reports/mock-locations?rep={wang}", headers=boss)).json()["visits"]
    assert [(v["lead_id"], v["flags"]) for v in report] == [(str(third), ["impossible_travel"]),
                                                           (str(second), ["repeated_position"])]
    assert report[0]["previous_check_in"]["lead_id"] == str(second)
    assert report[0]["position"]["latitude"] == SHANGHAI[0]
    assert report[1]["previous_check_in"]["position"]["latitude"] == HANGZHOU[0]
    since = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    later = await api.get("/v1/reports/mock-locations", params={"rep": wang, "from": since}, headers=boss)
    assert later.status_code == 200 and later.json()["visits"] == []
    # A NUL cannot reach Postgres text: the caller's mistake, answered in the caller's language.
    nul = await api.get("/v1/reports/mock-locations", params={"rep": "wang\x00"},
                        headers={**boss, "Accept-Language": "zh-CN"})
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]


async def test_the_timeline_is_newest_first_paged_and_for_those_who_held_the_lead(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    wang, before_him = unique("rep-wang"), unique("rep-li")
    lead = await held_lead(db, wang, previous=[before_him])
    me = who(staff_token, wang)
    for kind in ("call", "wechat", "email"):
        assert (await api.post(f"/v1/leads/{lead}/follow-ups", json={"type": kind}, headers=me)).status_code == 201
    await api.post(f"/v1/leads/{lead}/follow-ups", json=visit(HANGZHOU), headers=me)
    page = (await api.get(f"/v1/leads/{lead}/timeline?limit=3", headers=me)).json()
    assert [(e["kind"], e["detail"]["type"]) for e in page["entries"]] == [
        ("visit", "visit"), ("follow_up", "email"), ("follow_up", "wechat")]
    assert page["entries"][0]["actor"] == wang and page["entries"][0]["owner_id"] == wang
    rest = (await api.get(f"/v1/leads/{lead}/timeline?limit=3&before={page['next_before']}", headers=me)).json()
    assert [e["detail"]["type"] for e in rest["entries"]] == ["call"] and rest["next_before"] is None

    other = await api.get(f"/v1/leads/{lead}/timeline", headers=who(staff_token, unique("rep-zhou")))
    assert other.status_code == 403 and "never yours" in other.json()["detail"]
    assert (await api.get(f"/v1/leads/{lead}/timeline", headers=who(staff_token, before_him))).status_code == 200
    sdr = await api.get(f"/v1/leads/{lead}/timeline", headers=who(staff_token, "sdr-x", role="sdr"))
    assert sdr.status_code == 403
    boss = await api.get(f"/v1/leads/{lead}/timeline", headers=who(staff_token, "boss", role="manager"))
    assert boss.status_code == 200 and len(boss.json()["entries"]) == 4
    assert (await api.get(f"/v1/leads/{uuid.uuid4()}/timeline", headers=me)).status_code == 404


async def test_a_call_campaign_gives_each_owner_his_tasks_in_due_order(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    wang, zhou = unique("rep-wang"), unique("rep-zhou")
    leads = [await held_lead(db, wang), await held_lead(db, wang), await held_lead(db, zhou)]
    unowned, unknown = await held_lead(db, None, status="in_pool"), uuid.uuid4()
    boss = who(staff_token, "boss-east", role="manager")
    now = datetime.now(UTC)
    campaign = {"lead_ids": [str(i) for i in [*leads, unowned, unknown]], "kind": "call_campaign",
                "title": "618 回访", "due_at": (now + timedelta(days=2)).isoformat(), "campaign": "618"}
    assert (await api.post("/v1/tasks", json=campaign, headers=who(staff_token, wang))).status_code == 403
    made = await api.post("/v1/tasks", json=campaign, headers=boss)
    assert made.status_code == 201, made.text
    assert (made.json()["created"], made.json()["skipped"]) == (3, 2)
    assert set(made.json()["skipped_lead_ids"]) == {str(unowned), str(unknown)}
    overdue = await api.post("/v1/tasks", headers=boss, json={
        "lead_ids": [str(leads[1])], "kind": "birthday_call", "title": "生日问候",
        "due_at": (now - timedelta(hours=1)).isoformat()})
    assert overdue.json()["created"] == 1
    to_zhou = await api.post("/v1/tasks", headers=boss, json={  # no zone given: Beijing time, the calendar's
        "lead_ids": [str(leads[0])], "kind": "other", "title": "帮忙", "assignee_id": zhou,
        "due_at": "2030-01-02T09:00:00"})
    assert to_zhou.json()["created"] == 1

    me = who(staff_token, wang)
    first = (await api.get("/v1/me/tasks?limit=2", headers=me)).json()
    assert [(t["kind"], t["overdue"]) for t in first["tasks"]] == [("birthday_call", True), ("call_campaign", False)]
    rest = (await api.get(f"/v1/me/tasks?limit=2&cursor={first['next_cursor']}", headers=me)).json()
    assert [t["kind"] for t in rest["tasks"]] == ["call_campaign"] and rest["next_cursor"] is None
    zhou_tasks = (await api.get("/v1/me/tasks", headers=who(staff_token, zhou))).json()["tasks"]
    assert [t["kind"] for t in zhou_tasks] == ["call_campaign", "other"]
    assert datetime.fromisoformat(zhou_tasks[1]["due_at"]) == datetime(2030, 1, 2, 1, 0, tzinfo=UTC)
    timeline = (await api.get(f"/v1/leads/{leads[1]}/timeline", headers=me)).json()["entries"]
    assert [e["kind"] for e in timeline] == ["task", "task"]

    task_id = first["tasks"][0]["id"]
    assert (await api.post(f"/v1/tasks/{task_id}/done", headers=who(staff_token, zhou))).status_code == 403
    done = await api.post(f"/v1/tasks/{task_id}/done", headers=me)
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert (await api.post(f"/v1/tasks/{task_id}/done", headers=me)).status_code == 409
    assert (await api.post(f"/v1/tasks/{uuid.uuid4()}/done", headers=me)).status_code == 404
    by_boss = await api.post(f"/v1/tasks/{first['tasks'][1]['id']}/done", headers=boss)
    assert by_boss.status_code == 200
    assert [t["kind"] for t in (await api.get("/v1/me/tasks", headers=me)).json()["tasks"]] == ["call_campaign"]
    finished = (await api.get("/v1/me/tasks?status=done", headers=me)).json()["tasks"]
    assert {t["kind"] for t in finished} == {"birthday_call", "call_campaign"}

    too_many = {**campaign, "lead_ids": [str(uuid.uuid4()) for _ in range(10_001)]}
    refused = await api.post("/v1/tasks", json=too_many, headers={**boss, "Accept-Language": "zh"})
    assert refused.status_code == 422 and "最多" in refused.json()["detail"]
    async with db.uow() as uow:
        assert await uow.session.scalar(select(tasks.c.id).where(tasks.c.lead_id == unowned)) is None


async def test_an_sdrs_verdict_ends_or_passes_on_the_lead(api: AsyncTestClient[Any], db: Database, staff_token: Token,
                                                         clock: ClockRecorder, service_env: dict[str, str]) -> None:
    async with db.uow() as uow:  # the managed lists in force
        await store_pools(uow.session, parse_pools({"invalid_reasons": [
            {"code": "wrong_number", "zh": "空号", "en": "wrong number"},
            {"code": "competitor", "zh": "同行", "en": "competitor"}]}), "test")
        await uow.commit()
    li = unique("sdr-li")
    me = who(staff_token, li, role="sdr")
    invalid, nurtured, qualified = [await held_lead(db, li) for _ in range(3)]

    refused = await api.post(f"/v1/leads/{invalid}/follow-ups", headers=me, json={
        "type": "call", "disposition": "invalid", "reason": "no_need"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["valid_reasons"] == ["wrong_number", "competitor"]
    assert "wrong_number, competitor" in refused.json()["detail"]
    zh = await api.post(f"/v1/leads/{invalid}/follow-ups", headers={**me, "Accept-Language": "zh-CN,zh;q=0.9"},
                        json={"type": "call", "disposition": "invalid"})
    assert zh.status_code == 422 and "wrong_number、competitor" in zh.json()["detail"]
    assert (await lead_row(db, invalid))["last_follow_up_at"] is None  # nothing of a refused one is kept
    rep_verdict = await api.post(f"/v1/leads/{invalid}/follow-ups", json={"type": "call", "disposition": "qualified"},
                                 headers=who(staff_token, li, role="rep"))
    assert rep_verdict.status_code == 403

    done = await api.post(f"/v1/leads/{invalid}/follow-ups", headers=me, json={
        "type": "call", "outcome": "empty_number", "disposition": "invalid", "reason": "wrong_number"})
    assert done.status_code == 201 and done.json()["lead_status"] == "invalid", done.text
    row = await lead_row(db, invalid)
    assert (row["status"], row["owner_id"], row["disposition_reason"], row["next_deadline"]) == (
        "invalid", None, "wrong_number", None)
    assert row["previous_owner_ids"] == [li]
    [(topic, event)] = await outbox(service_env, invalid)
    assert topic == "leads.dispositioned.v1" and (event["disposition"], event["by"], event["reason"]) == (
        "invalid", li, "wrong_number")
    assert clock.ended == [(f"ownership-{invalid}-1", "dispositioned")]

    nurture = await api.post(f"/v1/leads/{nurtured}/follow-ups", headers=me, json={
        "type": "call", "disposition": "nurture", "reason": "not_now"})
    assert nurture.status_code == 201 and (await lead_row(db, nurtured))["status"] == "nurture"
    assert clock.ended[-1] == (f"ownership-{nurtured}-1", "dispositioned")

    bant = {"budget": "50万", "authority": "决策人", "need": "CRM", "timeline": "本季度"}
    passed = await api.post(f"/v1/leads/{qualified}/follow-ups", headers=me, json={
        "type": "call", "disposition": "qualified", "bant": bant,
        "next_follow_up_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    assert passed.status_code == 201, passed.text
    row = await lead_row(db, qualified)
    assert (row["status"], row["owner_id"], row["qualified_by"]) == ("owned", li, li)
    [(topic, event)] = await outbox(service_env, qualified)
    assert (topic, event["disposition"], event["bant"]) == ("leads.dispositioned.v1", "qualified", bant)
    assert clock.follow_ups[-1][0].workflow_id == f"ownership-{qualified}-1"
    timeline = (await api.get(f"/v1/leads/{qualified}/timeline", headers=me)).json()["entries"]
    assert [e["kind"] for e in timeline] == ["disposition", "follow_up"]
    assert timeline[0]["detail"]["bant"] == bant


async def test_temporal_away_does_not_lose_the_follow_up(api: AsyncTestClient[Any], db: Database,
                                                         staff_token: Token, clock: ClockRecorder) -> None:
    async def away(*args: Any) -> None:
        raise ConnectionError("temporal is not reachable")

    clock.signal_follow_up = away  # type: ignore[method-assign]
    wang = unique("rep-wang")
    lead = await held_lead(db, wang)
    reply = await api.post(f"/v1/leads/{lead}/follow-ups", json={"type": "call"}, headers=who(staff_token, wang))
    assert reply.status_code == 201 and (await lead_row(db, lead))["last_follow_up_at"] is not None
