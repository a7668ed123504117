"""pool's API as reps and managers use it: the pools document (refused whole), a pool's leads (filtered, sorted,
paged, contacts masked), claims with their limits, cooldown and membership, release, transfer and my leads."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select, text
from litestar.testing import AsyncTestClient
from typer.testing import CliRunner

from leadflow_pool.app import pools_cli, service
from leadflow_pool.db import store_pools
from leadflow_pool.domain.pools import parse_pools
from leadflow_pool.settings import PoolSettings
from leadflow_pool.tables import pool_leads
from leadflow_shared.db import Database

Token = Callable[..., str]


@pytest.fixture
async def api(settings_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=service.create_app(PoolSettings())) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def pools_document(pool: str, **rules: Any) -> dict[str, Any]:
    return {"default_pool": pool, "pools": [
        {"id": pool, "name": "华东公海", "kind": "region",
         "claimers": {"teams": ["east"]}, "viewers": {"teams": ["east"], "roles": ["manager"]},
         "managers": {"staff": ["boss-east"]}, "rules": {"max_held": 3, "claims_per_day": 5, **rules}},
        {"id": f"{pool}-north", "claimers": {"teams": ["east", "north"]}, "viewers": {"teams": ["east", "north"]}},
    ]}


async def use_pools(db: Database, document: dict[str, Any]) -> None:
    async with db.uow() as uow:
        await store_pools(uow.session, parse_pools(document), "test")
        await uow.commit()


async def pooled_leads(db: Database, pool: str, n: int, **fields: Any) -> list[uuid.UUID]:
    now = datetime.now(UTC)
    rows = [{"lead_id": uuid.uuid4(), "pool_id": pool, "status": "in_pool", "name": f"客户{i}",
             "mobile": f"+86138{i:08d}", "email": f"c{i}@example.com", "city": "杭州市", "province": "浙江省",
             "source": "website", "grade": "ABCD"[i % 4], "score": float(i * 10),
             "received_at": now - timedelta(days=i), "pooled_at": now, **fields} for i in range(n)]
    async with db.uow() as uow:
        await uow.session.execute(pool_leads.insert(), rows)
        await uow.commit()
    return [r["lead_id"] for r in rows]


def rep(token: Token, name: str, team: str = "east", role: str = "rep", **headers: str) -> dict[str, str]:
    return {"Authorization": token(name, role, teams=[team]), **headers}


async def outbox(env: dict[str, str], lead_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    conn = await asyncpg.connect(env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch("SELECT topic, payload FROM pool.outbox WHERE key = $1 ORDER BY id", str(lead_id))
    finally:
        await conn.close()
    return [(r["topic"], json.loads(r["payload"])["data"]) for r in rows]


async def test_a_pools_document_with_errors_is_refused_whole(api: AsyncTestClient[Any], db: Database,
                                                             staff_token: Token) -> None:
    admin = {"Authorization": staff_token("admin-1", "admin")}
    bad = """
default_pool: nowhere
pools:
  - {id: a, rules: {max_held: -1}}
  - {id: a, rules: {recycle_to: b}}
release_reasons: [{code: x, zh: 甲, en: x}, {code: x, zh: 乙, en: y}]
"""
    refused = await api.put("/v1/pools/document", content=bad.encode(), headers=admin)
    assert refused.status_code == 422, refused.text
    assert {e["path"] for e in refused.json()["errors"]} == {"pools[0].rules.max_held"}
    refused = await api.put("/v1/pools/document", content=bad.replace("-1", "1").encode(), headers=admin)
    assert {e["path"] for e in refused.json()["errors"]} == {
        "pools[1].id", "default_pool", "pools[1].rules.recycle_to", "release_reasons[1].code"}, refused.text
    rep_refused = await api.put("/v1/pools/document", content=b"pools: []", headers=rep(staff_token, "r"))
    assert rep_refused.status_code == 403

    pool = unique("east")
    stored = await api.put("/v1/pools/document", content=json.dumps(pools_document(pool)).encode(), headers=admin)
    assert stored.status_code == 200 and stored.json()["pools"] == [pool, f"{pool}-north"], stored.text
    yaml_text = (await api.get("/v1/pools/document?format=yaml", headers=admin)).text
    assert f"id: {pool}" in yaml_text and "华东公海" in yaml_text


def test_the_pools_document_is_kept_in_git_through_the_cli(settings_env: dict[str, str], tmp_path: Any) -> None:
    pool = unique("cli")
    good, bad = tmp_path / "pools.yaml", tmp_path / "bad.yaml"
    good.write_text(json.dumps(pools_document(pool), ensure_ascii=False), encoding="utf-8")
    bad.write_text("pools:\n  - {id: a, rules: {max_held: -1}}\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(pools_cli, ["validate", str(good)]).exit_code == 0
    refused = runner.invoke(pools_cli, ["load", str(bad)])
    assert refused.exit_code == 1 and "pools[0].rules.max_held" in refused.output, refused.output
    loaded = runner.invoke(pools_cli, ["load", str(good)])
    assert loaded.exit_code == 0 and "version" in loaded.output, loaded.output
    exported = runner.invoke(pools_cli, ["export"])
    assert exported.exit_code == 0 and f"id: {pool}" in exported.output and "华东公海" in exported.output


async def test_a_pool_lists_its_leads_filtered_sorted_paged_and_masked(api: AsyncTestClient[Any], db: Database,
                                                                       staff_token: Token) -> None:
    pool = unique("east")
    await use_pools(db, pools_document(pool))
    leads = await pooled_leads(db, pool, 12)
    wang = rep(staff_token, "rep-wang")

    visible = {p["id"]: p for p in (await api.get("/v1/pools", headers=wang)).json()}
    assert visible[pool]["waiting"] == 12 and visible[pool]["may_claim"] is True
    outsider = rep(staff_token, "rep-x", team="south")
    assert pool not in {p["id"] for p in (await api.get("/v1/pools", headers=outsider)).json()}
    assert (await api.get(f"/v1/pools/{pool}/leads", headers=outsider)).status_code == 403

    page = (await api.get(f"/v1/pools/{pool}/leads?limit=5&sort=-score", headers=wang)).json()
    assert [r["score"] for r in page["leads"]] == [110, 100, 90, 80, 70]
    assert page["leads"][0]["mobile"] == "138****0011" and page["leads"][0]["email"] == "c***@example.com"
    seen = [r["lead_id"] for r in page["leads"]]
    while page["next_cursor"]:
        page = (await api.get(f"/v1/pools/{pool}/leads", params={"limit": 5, "sort": "-score",
                                                                  "cursor": page["next_cursor"]}, headers=wang)).json()
        seen += [r["lead_id"] for r in page["leads"]]
    assert sorted(seen) == sorted(map(str, leads)) and len(seen) == 12

    grade_a = (await api.get(f"/v1/pools/{pool}/leads?grade=A&min_score=30", headers=wang)).json()["leads"]
    assert {r["score"] for r in grade_a} == {40.0, 80.0}
    recent = (await api.get(f"/v1/pools/{pool}/leads?max_age_days=2.5&sort=received_at", headers=wang)).json()
    assert [r["score"] for r in recent["leads"]] == [20.0, 10.0, 0.0]
    bad = await api.get(f"/v1/pools/{pool}/leads?cursor=nonsense", headers=wang)
    assert bad.status_code == 400


async def test_a_claim_is_held_to_membership_limits_and_cooldown(api: AsyncTestClient[Any], db: Database,
                                                                 staff_token: Token, service_env: dict[str, str]) -> None:
    pool = unique("east")
    await use_pools(db, pools_document(pool, cooldown_days=7, max_held=3, claims_per_day=5))
    leads = await pooled_leads(db, pool, 8)
    wang = rep(staff_token, "rep-wang", **{"Accept-Language": "zh-CN"})

    outsider = await api.post(f"/v1/leads/{leads[0]}/claim", headers=rep(staff_token, "rep-x", team="south"))
    assert outsider.status_code == 403 and "not a member" in outsider.json()["detail"]

    claimed = await api.post(f"/v1/leads/{leads[0]}/claim", headers=wang)
    assert claimed.status_code == 200, claimed.text
    body = claimed.json()
    assert body["owner_id"] == "rep-wang" and body["mobile"] == "+8613800000000"  # unmasked once his
    assert body["first_follow_up_deadline"] and body["conversion_deadline"] and body["ownership_seq"] == 1
    assert [t for t, _ in await outbox(service_env, leads[0])] == ["leads.claimed.v1"]

    again = await api.post(f"/v1/leads/{leads[0]}/claim", headers=rep(staff_token, "rep-li"))
    assert again.status_code == 409 and again.json()["code"] == "already_owned"

    for lead in leads[1:3]:
        assert (await api.post(f"/v1/leads/{lead}/claim", headers=wang)).status_code == 200
    full = await api.post(f"/v1/leads/{leads[3]}/claim", headers=wang)
    assert full.status_code == 409 and "已达上限 3 条" in full.json()["detail"], full.text

    # released with a reason from the list: back in the pool, and its last owner waits out the cooldown
    unknown = await api.post(f"/v1/leads/{leads[0]}/release", json={"reason": "bored"}, headers=wang)
    assert unknown.status_code == 422 and "no_answer" in unknown.json()["detail"]
    released = await api.post(f"/v1/leads/{leads[0]}/release", json={"reason": "no_answer"}, headers=wang)
    assert released.status_code == 200 and released.json()["status"] == "in_pool", released.text
    assert released.json()["previous_owner_ids"] == ["rep-wang"]
    cooldown = await api.post(f"/v1/leads/{leads[0]}/claim", headers=wang)
    assert cooldown.status_code == 409 and "前负责人 7 天内不能领取" in cooldown.json()["detail"], cooldown.text
    assert (await api.post(f"/v1/leads/{leads[0]}/claim", headers=rep(staff_token, "rep-li"))).status_code == 200
    topics = [t for t, _ in await outbox(service_env, leads[0])]
    assert topics == ["leads.claimed.v1", "leads.released.v1", "leads.claimed.v1"]

    # the day's claims: two more (now holding 3 again after the release) would pass the held limit first,
    # so raise it and hit the daily one
    await use_pools(db, pools_document(pool, cooldown_days=7, max_held=50, claims_per_day=5))
    assert (await api.post(f"/v1/leads/{leads[3]}/claim", headers=wang)).status_code == 200
    assert (await api.post(f"/v1/leads/{leads[4]}/claim", headers=wang)).status_code == 200
    daily = await api.post(f"/v1/leads/{leads[5]}/claim", headers={**wang, "Accept-Language": "en"})
    assert daily.status_code == 409 and daily.json()["code"] == "daily_limit", daily.text

    mine = (await api.get("/v1/me/leads", headers=wang)).json()
    assert len(mine) == 4 and all(m["owner_id"] == "rep-wang" for m in mine)
    deadlines = [m["next_deadline"] for m in mine]
    assert deadlines == sorted(deadlines)


async def test_overdue_leads_come_first_in_my_leads(api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    me = unique("rep")
    now = datetime.now(UTC)
    ids = await pooled_leads(db, "p", 3, status="owned", owner_id=me)
    async with db.uow() as uow:
        for lead, due in zip(ids, (now + timedelta(days=2), now - timedelta(hours=1), now + timedelta(hours=3))):
            await uow.session.execute(pool_leads.update().where(pool_leads.c.lead_id == lead).values(next_deadline=due))
        await uow.commit()
    mine = (await api.get("/v1/me/leads", headers=rep(staff_token, me))).json()
    assert [m["lead_id"] for m in mine] == [str(ids[1]), str(ids[2]), str(ids[0])]
    assert [m["overdue"] for m in mine] == [True, False, False]


async def test_transfers_by_a_manager_or_a_member_of_both_pools(api: AsyncTestClient[Any], db: Database,
                                                               staff_token: Token, service_env: dict[str, str]) -> None:
    pool = unique("east")
    await use_pools(db, pools_document(pool))
    lead, other = await pooled_leads(db, pool, 2)
    wang = rep(staff_token, "rep-wang")
    assert (await api.post(f"/v1/leads/{lead}/claim", headers=wang)).status_code == 200

    refused = await api.post(f"/v1/leads/{lead}/transfer", json={"to_owner_id": "rep-li"}, headers=wang)
    assert refused.status_code == 403, refused.text
    boss = {"Authorization": staff_token("boss-east", "manager", teams=["east"])}
    moved = await api.post(f"/v1/leads/{lead}/transfer", json={"to_owner_id": "rep-li", "reason": "休假"}, headers=boss)
    assert moved.status_code == 200, moved.text
    assert moved.json()["owner_id"] == "rep-li" and moved.json()["ownership_seq"] == 2
    data = [d for t, d in await outbox(service_env, lead) if t == "leads.transferred.v1"]
    assert data[0]["from_owner_id"] == "rep-wang" and data[0]["to_owner_id"] == "rep-li" and data[0]["by"] == "boss-east"

    # a member of both pools moves a waiting lead between them; someone of one pool only may not
    between = await api.post(f"/v1/leads/{other}/transfer", json={"to_pool_id": f"{pool}-north"}, headers=wang)
    assert between.status_code == 200 and between.json()["pool_id"] == f"{pool}-north", between.text
    north_only = rep(staff_token, "rep-bei", team="north")
    back = await api.post(f"/v1/leads/{other}/transfer", json={"to_pool_id": pool}, headers=north_only)
    assert back.status_code == 403
    nowhere = await api.post(f"/v1/leads/{other}/transfer", json={"to_pool_id": "nowhere"}, headers=boss)
    assert nowhere.status_code == 422
    both = await api.post(f"/v1/leads/{other}/transfer", json={"to_pool_id": pool, "to_owner_id": "x"}, headers=boss)
    assert both.status_code == 422


async def test_of_a_hundred_simultaneous_claims_over_http_exactly_one_wins(
    db: Database, staff_token: Token, service_processes: Any
) -> None:
    from leadflow_pool.app import service as pool_service

    pool = unique("east")
    await use_pools(db, pools_document(pool, claims_per_day=1000, max_held=1000))
    [lead] = await pooled_leads(db, pool, 1)
    running = service_processes.start(pool_service)
    service_processes.wait_ready()
    headers = [rep(staff_token, f"rep-{i}") for i in range(100)]
    async with httpx.AsyncClient(base_url=running.url, timeout=30,
                                 limits=httpx.Limits(max_connections=100)) as client:
        replies = await asyncio.gather(*(client.post(f"/v1/leads/{lead}/claim", headers=h) for h in headers))
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] + [409] * 99, codes
    winner = next(r for r in replies if r.status_code == 200).json()["owner_id"]
    async with db.uow() as uow:
        owner = await uow.session.scalar(select(pool_leads.c.owner_id).where(pool_leads.c.lead_id == lead))
        claims = await uow.session.scalar(
            text("SELECT count(*) FROM pool.timeline WHERE lead_id = :l AND kind = 'claimed'"), {"l": lead})
    assert owner == winner and claims == 1

