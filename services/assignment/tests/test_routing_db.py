"""Routing in Postgres: which leads route, capacity, second assignment, ownership changes, managers' tools."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from leadflow_assignment import views
from leadflow_assignment.assigner import ROUTED_AGAIN, Assigner, AssignmentRefused
from sqlalchemy import text

from leadflow_assignment.db import AssignmentRepository
from leadflow_assignment.settings import AssignmentSettings
from leadflow_shared.contracts import LeadAssigned, LeadRecycled
from leadflow_shared.events import parse_event
from leadflow_shared.db import Database

from .conftest import configure, now, scored, unique


def team_org(team: str, reps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"teams": [{"id": team, "default_pool": f"{team}-pool", "managers": ["boss"]}],
            "reps": [{"team": team, **rep} for rep in reps], **extra}


async def routed(db: Database, lead_id: uuid.UUID) -> dict[str, Any]:
    lead = await views.lead(db, lead_id)
    assert lead is not None
    return lead


async def test_only_qualified_leads_route_and_a_rescore_does_not_move_them(db: Database, assigner: Assigner, run) -> None:
    team = unique("t")
    await configure(db, team_org(team, [{"id": f"{team}-a"}]), {"rules": [{"id": "rr", "strategy": "round_robin", "team": team}]})
    nurture, crossing, disqualified = scored(stage="nurture"), uuid.uuid4(), scored(stage="disqualified")
    await run(lambda uow: assigner.on_scored([nurture, disqualified, scored(crossing, stage="nurture")], uow))
    assert (await routed(db, nurture.lead_id))["status"] == "waiting"
    assert (await routed(db, crossing))["status"] == "waiting"
    await run(lambda uow: assigner.on_scored([scored(crossing, stage="mql")], uow))
    first = await routed(db, crossing)
    assert (first["status"], first["owner_id"]) == ("assigned", f"{team}-a")
    await run(lambda uow: assigner.on_scored([scored(crossing, stage="mql", grade="A")], uow))
    again = await routed(db, crossing)
    assert (again["owner_id"], again["grade"]) == (f"{team}-a", "A")
    assert len(await views.decisions(db, crossing)) == 1
    assert (await routed(db, disqualified.lead_id))["status"] == "waiting"


async def test_the_decision_is_explained_and_published_in_the_same_transaction(db: Database, assigner: Assigner, run) -> None:
    team = unique("t")
    await configure(db, team_org(team, [{"id": f"{team}-a", "max_open_leads": 0}, {"id": f"{team}-b", "status": "on_leave"},
                                        {"id": f"{team}-c"}]),
                    {"rules": [{"id": "rr", "strategy": "round_robin", "team": team}]})
    lead = scored()
    await run(lambda uow: assigner.on_scored([lead], uow))
    [decision] = await views.decisions(db, lead.lead_id)
    assert (decision["rule"], decision["strategy"], decision["owner_id"]) == ("rr", "round_robin", f"{team}-c")
    passed = {c["rep_id"]: c["passed_over"] for c in decision["explanation"]["candidates"]}
    assert passed == {f"{team}-a": "full (0 of 0 open)", f"{team}-b": "away (on leave)", f"{team}-c": None}
    async with db.uow() as uow:
        rows = (await uow.session.execute(text(
            "SELECT topic, payload FROM assignment.outbox WHERE key = :k"), {"k": str(lead.lead_id)})).all()
    assert [r.topic for r in rows] == ["leads.assigned.v1"]
    event = parse_event(rows[0].payload.encode(), LeadAssigned)
    assert (event.data.owner_id, event.data.rules_version, event.data.decision_id) == (f"{team}-c", decision["rules_version"], decision["id"])


async def test_a_lead_nobody_can_take_falls_to_the_teams_pool_with_the_reason(db: Database, assigner: Assigner, run) -> None:
    team = unique("t")
    await configure(db, team_org(team, [{"id": f"{team}-a", "max_open_leads": 1}]),
                    {"rules": [{"id": "rr", "strategy": "round_robin", "team": team}]})
    first, second = scored(), scored()
    await run(lambda uow: assigner.on_scored([first, second], uow))
    lead = await routed(db, second.lead_id)
    assert (lead["status"], lead["pool_id"]) == ("pooled", f"{team}-pool")
    [decision] = await views.decisions(db, second.lead_id)
    assert decision["reason"] == "every eligible rep is full (1 full)"


async def test_second_assignment_excludes_the_reps_who_held_the_lead(db: Database, assigner: Assigner, run) -> None:
    team = unique("t")
    reps = [f"{team}-{x}" for x in "abc"]
    await configure(db, team_org(team, [{"id": r} for r in reps]),
                    {"rules": [{"id": "ll", "strategy": "least_loaded", "team": team}]})
    lead = scored()
    await run(lambda uow: assigner.on_scored([lead], uow))
    owners = [(await routed(db, lead.lead_id))["owner_id"]]
    for _ in range(2):
        recycled = LeadRecycled(lead_id=lead.lead_id, pool_id=f"{team}-pool", previous_owner_id=owners[-1],
                                reason="follow_up_overdue", recycled_at=now())
        await run(lambda uow: assigner.on_recycled([recycled], uow))
        owners.append((await routed(db, lead.lead_id))["owner_id"])
    assert sorted(owners) == reps  # each time someone new
    recycled = LeadRecycled(lead_id=lead.lead_id, pool_id=f"{team}-pool", previous_owner_id=owners[-1],
                            reason="follow_up_overdue", recycled_at=now())
    await run(lambda uow: assigner.on_recycled([recycled], uow))
    last = await routed(db, lead.lead_id)
    assert (last["status"], last["pool_id"], last["previous_owners"]) == ("pooled", f"{team}-pool", owners)
    loads = await views.loads(db)
    assert [loads[r]["open_leads"] for r in reps] == [0, 0, 0]  # each gave it back


async def test_open_leads_follow_claims_releases_transfers_and_conversions(db: Database, assigner: Assigner, run) -> None:
    team = unique("t")
    a, b = f"{team}-a", f"{team}-b"
    await configure(db, team_org(team, [{"id": a}, {"id": b}]), {"rules": [{"id": "pool", "strategy": "pool", "team": team}]})
    lead = scored()
    await run(lambda uow: assigner.on_scored([lead], uow))
    assert (await routed(db, lead.lead_id))["status"] == "pooled"
    await run(lambda uow: assigner.ownership_changed(uow, lead.lead_id, owner=a))  # claimed
    await run(lambda uow: assigner.ownership_changed(uow, lead.lead_id, owner=a))  # told twice: no change
    assert (await views.loads(db))[a]["open_leads"] == 1
    await run(lambda uow: assigner.ownership_changed(uow, lead.lead_id, owner=b))  # transferred
    loads = await views.loads(db)
    assert (loads[a]["open_leads"], loads[b]["open_leads"]) == (0, 1)
    await run(lambda uow: assigner.ownership_changed(uow, lead.lead_id, owner=None, pool_id="p"))  # released
    assert (await views.loads(db))[b]["open_leads"] == 0
    await run(lambda uow: assigner.ownership_changed(uow, lead.lead_id, owner=a))
    await run(lambda uow: assigner.ownership_changed(uow, lead.lead_id, owner=None, converted_by=a))
    assert (await views.loads(db))[a]["open_leads"] == 0
    assert (await routed(db, lead.lead_id))["status"] == "converted"
    async with db.uow() as uow:
        counts = await AssignmentRepository(uow.session).conversion_counts()
    assert counts[(a, "website")] == (0, 1)


async def test_account_owner_keeps_a_companys_leads_with_one_rep(db: Database, assigner: Assigner, run) -> None:
    team = unique("t")
    await configure(db, team_org(team, [{"id": f"{team}-{x}"} for x in "abc"]),
                    {"rules": [{"id": "owner", "strategy": "account_owner"}, {"id": "rr", "strategy": "round_robin", "team": team}]})
    company = uuid.uuid4()
    first, second = scored(company_id=company), scored(company_id=company)
    await run(lambda uow: assigner.on_scored([first], uow))
    await run(lambda uow: assigner.on_scored([second], uow))
    owner = (await routed(db, first.lead_id))["owner_id"]
    assert (await routed(db, second.lead_id))["owner_id"] == owner
    assert (await views.decisions(db, second.lead_id))[0]["rule"] == "owner"


async def test_a_manager_assigns_from_his_queue_within_caps(db: Database, assigner: Assigner, run) -> None:
    team = unique("t")
    a, away, full = f"{team}-a", f"{team}-away", f"{team}-full"
    await configure(db, team_org(team, [{"id": a}, {"id": away, "status": "on_leave"}, {"id": full, "max_open_leads": 0}]),
                    {"rules": [{"id": "queue", "strategy": "manual", "team": team}]})
    lead = scored()
    await run(lambda uow: assigner.on_scored([lead], uow))
    assert (await routed(db, lead.lead_id))["queue"] == f"{team}-queue"
    allow = lambda team_id: None  # noqa: E731
    for rep, status in ((away, 409), (full, 409), ("nobody", 422)):
        with pytest.raises(AssignmentRefused) as refused:
            await run(lambda uow: assigner.assign(uow, lead.lead_id, rep, "boss", None, allow))
        assert refused.value.status == status
    with pytest.raises(AssignmentRefused) as unknown:
        await run(lambda uow: assigner.assign(uow, uuid.uuid4(), a, "boss", None, allow))
    assert unknown.value.status == 404
    decision = await run(lambda uow: assigner.assign(uow, lead.lead_id, a, "boss", "knows the client", allow))
    assert (decision["owner_id"], decision["kind"], decision["decided_by"]) == (a, "manual", "boss")
    assert (await views.loads(db))[a]["open_leads"] == 1


async def test_distribute_spreads_evenly_within_caps(db: Database, assigner: Assigner, run) -> None:
    team = unique("t")
    reps = [f"{team}-{x}" for x in "abc"]
    await configure(db, team_org(team, [{"id": reps[0]}, {"id": reps[1]}, {"id": reps[2], "max_open_leads": 2}]),
                    {"rules": [{"id": "queue", "strategy": "manual", "team": team}]})
    leads = [scored() for _ in range(11)]
    await run(lambda uow: assigner.on_scored(leads, uow))
    result = await run(lambda uow: assigner.distribute(uow, team, reps, "boss", lambda t: None,
                                                       where={"status": "queued"}))
    assert result["distributed"] == 11 and result["per_rep"] == {reps[0]: 5, reps[1]: 4, reps[2]: 2} \
        or result["per_rep"] == {reps[0]: 4, reps[1]: 5, reps[2]: 2}


async def test_a_territory_is_handed_over_in_one_operation(db: Database, assigner: Assigner, run) -> None:
    team = unique("t")
    old, new = f"{team}-old", f"{team}-new"
    org = team_org(team, [{"id": old, "territories": ["hz"]}, {"id": new, "max_open_leads": 5}],
                   territories=[{"id": "hz", "province": "浙江", "city": "杭州"}])
    await configure(db, org, {"rules": [{"id": "field", "strategy": "territory", "team": team}]})
    hangzhou = [scored(province="浙江省", city="杭州市") for _ in range(3)]
    await run(lambda uow: assigner.on_scored(hangzhou, uow))
    assert {(await routed(db, x.lead_id))["owner_id"] for x in hangzhou} == {old}
    with pytest.raises(AssignmentRefused):
        await run(lambda uow: assigner.reassign_territory(uow, "nowhere", old, new, "boss", lambda t: None))
    result = await run(lambda uow: assigner.reassign_territory(uow, "hz", old, new, "boss", lambda t: None))
    assert result["moved"] == 3
    loads = await views.loads(db)
    assert (loads[old]["open_leads"], loads[new]["open_leads"]) == (0, 3)
    assert {(await routed(db, x.lead_id))["owner_id"] for x in hangzhou} == {new}


def two_teams(first: str, second: str, **caps: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grade A leads to `first`'s one rep, the rest to `second`'s."""
    org = {"teams": [{"id": t, "default_pool": f"{t}-pool", "managers": ["boss"]} for t in (first, second)],
           "reps": [{"id": f"{first}-a", "team": first, **caps}, {"id": f"{second}-a", "team": second}]}
    rules = {"rules": [{"id": "a-leads", "when": {"grades": ["A"]}, "strategy": "round_robin", "team": first},
                       {"id": "the-rest", "strategy": "round_robin", "team": second}]}
    return org, rules


async def test_replicas_route_side_by_side_locking_only_the_reps_they_give_leads_to(
        db: Database, service_env: dict[str, str]) -> None:
    """Two assignment replicas (two catalogues, two transactions): one holding its transaction open does not
    hold up the other, which gives its lead to another rep."""
    first, second = unique("t"), unique("t")
    await configure(db, *two_teams(first, second))
    replica_1, replica_2 = (Assigner(AssignmentSettings(pg_dsn=service_env["LEADFLOW_PG_DSN"])) for _ in range(2))
    a_lead, b_lead = scored(grade="A"), scored(grade="B")
    async with db.uow() as held:
        await replica_1.on_scored([a_lead], held)
        async with db.uow() as uow:
            await asyncio.wait_for(replica_2.on_scored([b_lead], uow), timeout=10)
            await uow.commit()
        assert (await routed(db, b_lead.lead_id))["owner_id"] == f"{second}-a"
        await held.commit()
    assert (await routed(db, a_lead.lead_id))["owner_id"] == f"{first}-a"
    loads = await views.loads(db)
    assert (loads[f"{first}-a"]["open_leads"], loads[f"{second}-a"]["open_leads"]) == (1, 1)


async def test_a_rep_another_replica_filled_meanwhile_is_given_nothing_more(
        db: Database, service_env: dict[str, str]) -> None:
    """Both replicas decide on the same free place; the second to settle finds the rep full and decides its
    batch again on locked loads: one decision, one event, the cap kept."""
    first, second = unique("t"), unique("t")
    await configure(db, *two_teams(first, second, max_open_leads=1))
    replica_1, replica_2 = (Assigner(AssignmentSettings(pg_dsn=service_env["LEADFLOW_PG_DSN"])) for _ in range(2))
    taken, late = scored(grade="A"), scored(grade="A")
    again = ROUTED_AGAIN._value.get()
    async with db.uow() as held:
        await replica_1.on_scored([taken], held)
        async with db.uow() as uow:
            settling = asyncio.create_task(replica_2.on_scored([late], uow))
            await asyncio.sleep(0.5)
            assert not settling.done()  # waiting on the rep's load, locked by the first replica
            await held.commit()
            await asyncio.wait_for(settling, timeout=10)
            await uow.commit()
    assert ROUTED_AGAIN._value.get() == again + 1
    assert (await routed(db, taken.lead_id))["owner_id"] == f"{first}-a"
    lead = await routed(db, late.lead_id)
    assert (lead["status"], lead["pool_id"]) == ("pooled", f"{first}-pool")
    [decision] = await views.decisions(db, late.lead_id)
    assert decision["reason"] == "every eligible rep is full (1 full)"
    async with db.uow() as uow:
        topics = (await uow.session.execute(text(
            "SELECT topic FROM assignment.outbox WHERE key = :k"), {"k": str(late.lead_id)})).scalars().all()
    assert topics == ["leads.pooled.v1"]
    assert (await views.loads(db))[f"{first}-a"]["open_leads"] == 1
