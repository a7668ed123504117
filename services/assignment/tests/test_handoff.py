"""An SDR's qualification (线索清洗) handed to sales: rules tell a qualified lead from one no SDR has seen, the SDR
is never its sales owner, and in Postgres the hand-off happens on scoring's next MQL, credited to him."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from leadflow_assignment import views
from leadflow_assignment.assigner import Assigner
from leadflow_assignment.domain.org import load_organisation_yaml
from leadflow_assignment.domain.routing import LeadFacts, Loads, Router
from leadflow_assignment.domain.rules import load_rules_yaml
from leadflow_shared.contracts import LeadAssigned, LeadDispositioned
from leadflow_shared.db import Database
from leadflow_shared.events import parse_event

from .conftest import configure, now, scored, unique

ORG = load_organisation_yaml("""
teams:
  - {id: sdr, default_pool: sdr-pool}
  - {id: sales, default_pool: sales-pool}
reps:
  - {id: sdr-li, team: sdr}
  - {id: sdr-wu, team: sales}
  - {id: s-a, team: sales}
""")
RULES = """
rules:
  - {id: cleanse, when: {qualified: false}, strategy: round_robin, team: sdr}
  - {id: to-sales, when: {qualified: true}, strategy: least_loaded, team: sales}
"""


def test_a_qualified_lead_goes_to_sales_and_never_to_its_sdr() -> None:
    router = Router(ORG, load_rules_yaml(RULES, ORG), default_pool="public")
    fresh = router.decide(LeadFacts(lead_id=uuid.uuid4(), stage="mql"), Loads())
    assert (fresh.rule, fresh.owner_id) == ("cleanse", "sdr-li")
    for _ in range(5):  # sdr-wu sits in sales too, and would be the least loaded: he qualified it, so not him
        handed = router.decide(LeadFacts(lead_id=uuid.uuid4(), stage="mql", qualified_by="sdr-wu"), Loads())
        assert (handed.rule, handed.owner_id) == ("to-sales", "s-a")


def sdr_org(team: str) -> tuple[dict[str, Any], dict[str, Any]]:
    org = {"teams": [{"id": f"{team}-sdr", "default_pool": f"{team}-sdr-pool"},
                     {"id": f"{team}-sales", "default_pool": f"{team}-sales-pool"}],
           "reps": [{"id": f"{team}-li", "team": f"{team}-sdr"}, {"id": f"{team}-a", "team": f"{team}-sales"}]}
    rules = {"rules": [{"id": "cleanse", "when": {"qualified": False}, "strategy": "round_robin", "team": f"{team}-sdr"},
                       {"id": "to-sales", "when": {"qualified": True}, "strategy": "round_robin",
                        "team": f"{team}-sales"}]}
    return org, rules


def verdict(lead_id: uuid.UUID, by: str, disposition: str) -> LeadDispositioned:
    return LeadDispositioned(lead_id=lead_id, by=by, disposition=disposition, dispositioned_at=now(),
                             bant={"budget": "50万"} if disposition == "qualified" else None,
                             reason=None if disposition == "qualified" else "not_now")


async def assigned_events(db: Database, lead_id: uuid.UUID) -> list[LeadAssigned]:
    async with db.uow() as uow:
        rows = (await uow.session.execute(text(
            "SELECT payload FROM assignment.outbox WHERE key = :k AND topic = 'leads.assigned.v1' ORDER BY id"),
            {"k": str(lead_id)})).all()
    return [parse_event(r.payload.encode(), LeadAssigned).data for r in rows]


async def test_the_next_mql_hands_a_qualified_lead_to_sales(db: Database, assigner: Assigner, run: Any) -> None:
    team = unique("h")
    await configure(db, *sdr_org(team))
    sdr, sales = f"{team}-li", f"{team}-a"
    lead = scored(stage="mql")
    await run(lambda uow: assigner.on_scored([lead], uow))
    assert (await views.lead(db, lead.lead_id))["owner_id"] == sdr
    assert (await views.loads(db))[sdr]["open_leads"] == 1

    await run(lambda uow: assigner.on_dispositioned([verdict(lead.lead_id, sdr, "qualified")], uow))
    assert (await views.lead(db, lead.lead_id))["owner_id"] == sdr  # his until scoring says MQL
    await run(lambda uow: assigner.on_scored([scored(lead.lead_id, stage="mql")], uow))
    row = await views.lead(db, lead.lead_id)
    assert (row["status"], row["owner_id"], row["previous_owners"]) == ("assigned", sales, [sdr])
    loads = await views.loads(db)
    assert (loads[sdr]["open_leads"], loads[sales]["open_leads"]) == (0, 1)
    first, handoff = await assigned_events(db, lead.lead_id)
    assert (first.owner_id, first.kind, first.qualified_by) == (sdr, "route", None)
    assert (handoff.owner_id, handoff.kind, handoff.qualified_by, handoff.rule) == (sales, "handoff", sdr, "to-sales")

    await run(lambda uow: assigner.on_scored([scored(lead.lead_id, stage="mql", grade="A")], uow))
    assert len(await assigned_events(db, lead.lead_id)) == 2  # handed over once
    assert [d["kind"] for d in await views.decisions(db, lead.lead_id)] == ["handoff", "route"]


async def test_scorings_answer_heard_before_the_verdict_still_hands_the_lead_over(
        db: Database, assigner: Assigner, run: Any) -> None:
    """leads.scored and leads.dispositioned are two topics: scoring's MQL answering the verdict may come first.
    The verdict then finds that answer (the score says which verdict it reflects) and hands over at once;
    an MQL from before the verdict does not count as its answer."""
    team = unique("r")
    await configure(db, *sdr_org(team))
    sdr, sales = f"{team}-li", f"{team}-a"
    early, raced = scored(stage="mql"), scored(stage="mql")
    for lead in (early, raced):
        await run(lambda uow, lead=lead: assigner.on_scored([lead], uow))
    given = verdict(raced.lead_id, sdr, "qualified")
    answer = scored(raced.lead_id, stage="mql").model_copy(update={"verdict_at": given.dispositioned_at})
    await run(lambda uow: assigner.on_scored([answer], uow))  # the answer first: nothing to hand over yet
    assert (await views.lead(db, raced.lead_id))["owner_id"] == sdr
    await run(lambda uow: assigner.on_dispositioned([given, verdict(early.lead_id, sdr, "qualified")], uow))
    assert (await views.lead(db, raced.lead_id))["owner_id"] == sales
    assert [e.kind for e in await assigned_events(db, raced.lead_id)] == ["route", "handoff"]
    assert (await views.lead(db, early.lead_id))["owner_id"] == sdr  # its answer is still to come
    loads = await views.loads(db)
    assert (loads[sdr]["open_leads"], loads[sales]["open_leads"]) == (1, 1)


async def test_a_nurtured_lead_leaves_its_sdr_until_it_qualifies_again(db: Database, assigner: Assigner,
                                                                       run: Any) -> None:
    team = unique("n")
    await configure(db, *sdr_org(team))
    sdr = f"{team}-li"
    lead = scored(stage="mql")
    await run(lambda uow: assigner.on_scored([lead], uow))
    await run(lambda uow: assigner.on_dispositioned([verdict(lead.lead_id, sdr, "nurture")], uow))
    row = await views.lead(db, lead.lead_id)
    assert (row["status"], row["owner_id"], row["previous_owners"]) == ("waiting", None, [sdr])
    assert (await views.loads(db))[sdr]["open_leads"] == 0
    await run(lambda uow: assigner.on_scored([scored(lead.lead_id, stage="nurture")], uow))
    assert (await views.lead(db, lead.lead_id))["status"] == "waiting"
    await run(lambda uow: assigner.on_scored([scored(lead.lead_id, stage="mql")], uow))
    assert (await views.lead(db, lead.lead_id))["owner_id"] == sdr  # routed again, by the usual rules
