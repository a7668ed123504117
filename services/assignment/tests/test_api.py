"""assignment's HTTP API as staff use it: the organisation and rules (refused whole with every error), the
manager's tools, explanations, the distribution report and simulation; and `leadflow org …` commands."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from typer.testing import CliRunner

from leadflow_assignment.app import org_cli, service
from leadflow_assignment.app import cli as assignment_cli
from leadflow_assignment.assigner import Assigner
from leadflow_assignment.settings import AssignmentSettings
from leadflow_shared.db import Database

from .conftest import configure, scored, unique

Token = Callable[..., str]


@pytest.fixture
async def api(settings_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=service.create_app(AssignmentSettings())) as client:
        yield client


def org_of(team: str, **rep: Any) -> dict[str, Any]:
    return {"teams": [{"id": team, "default_pool": f"{team}-pool", "managers": [f"{team}-boss"]},
                      {"id": f"{team}-other", "default_pool": "other-pool"}],
            "reps": [{"id": f"{team}-a", "team": team, **rep}, {"id": f"{team}-b", "team": team},
                     {"id": f"{team}-away", "team": team, "status": "on_leave"}]}


async def test_an_organisation_with_errors_is_refused_whole(api: AsyncTestClient[Any], db: Database,
                                                            staff_token: Token) -> None:
    team = unique("org")
    await configure(db, org_of(team))
    admin = {"Authorization": staff_token("admin-1", "admin")}
    before = (await api.get("/v1/org", headers=admin)).json()["version"]
    bad = f"""
teams: [{{id: {team}, default_pool: p}}]
reps:
  - {{id: x, team: {team}}}
  - {{id: x, team: {team}}}
  - {{id: y, team: nowhere}}
  - {{id: z, team: {team}, max_open_leads: -5}}
"""
    refused = await api.put("/v1/org", content=bad.encode(), headers={**admin, "Content-Type": "application/yaml"})
    assert refused.status_code == 422, refused.text
    paths = {e["path"] for e in refused.json()["errors"]}
    assert paths == {"reps[3].max_open_leads"}  # the shape first; with a valid shape, the references:
    bad = bad.replace("max_open_leads: -5", "max_open_leads: 5")
    refused = await api.put("/v1/org", content=bad.encode(), headers=admin)
    assert {(e["path"], e["message"]) for e in refused.json()["errors"]} == {
        ("reps[1].id", "duplicate rep 'x' (also reps[0])"), ("reps[2].team", "unknown team 'nowhere'")}
    assert (await api.get("/v1/org", headers=admin)).json()["version"] == before  # nothing applied
    rep = {"Authorization": staff_token(f"{team}-a", "rep", teams=[team])}
    assert (await api.put("/v1/org", content=b"teams: []", headers=rep)).status_code == 403
    exported = await api.get("/v1/org?format=yaml", headers=admin)
    assert f"id: {team}-a" in exported.text


async def test_a_manager_changes_his_own_reps_only(api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    team = unique("mgr")
    await configure(db, org_of(team))
    boss = {"Authorization": staff_token(f"{team}-boss", "manager", teams=[team])}
    stranger = {"Authorization": staff_token("boss-elsewhere", "manager", teams=["elsewhere"])}
    leave = {"team": team, "status": "on_leave", "max_open_leads": 40}
    assert (await api.put(f"/v1/reps/{team}-a", json=leave, headers=stranger)).status_code == 403
    changed = await api.put(f"/v1/reps/{team}-a", json=leave, headers=boss)
    assert changed.status_code == 200, changed.text
    shown = (await api.get(f"/v1/reps/{team}-a", headers=boss)).json()
    assert (shown["status"], shown["max_open_leads"], shown["open_leads"]) == ("on_leave", 40, 0)
    negative = await api.put(f"/v1/reps/{team}-a", json={"team": team, "max_new_per_day": -1}, headers=boss)
    assert negative.status_code == 422 and negative.json()["errors"][0]["path"] == "rep.max_new_per_day"


async def test_rules_are_versioned_and_each_decision_records_its_version(
    api: AsyncTestClient[Any], db: Database, staff_token: Token, assigner: Assigner, run: Any,
) -> None:
    team = unique("rules")
    await configure(db, org_of(team))
    admin = {"Authorization": staff_token("admin-1", "admin")}
    bad = await api.put("/v1/rules", content=f"rules: [{{id: x, strategy: round_robin, team: {team}x}}]".encode(),
                        headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "rules[0].team"
    put = await api.put("/v1/rules", content=f"rules: [{{id: rr, strategy: round_robin, team: {team}}}]".encode(),
                        headers=admin)
    assert put.status_code == 200, put.text
    version = put.json()["version"]
    shown = (await api.get("/v1/rules", headers=admin)).json()
    assert shown["version"] == version and shown["rules"][0]["id"] == "rr"
    lead = scored()
    await run(lambda uow: assigner.on_scored([lead], uow))
    explained = (await api.get(f"/v1/leads/{lead.lead_id}/assignment", headers=admin)).json()
    assert explained["decisions"][0]["rules_version"] == version
    valid = await api.post("/v1/rules/validate", content=b"rules: [{id: p, strategy: pool}]", headers=admin)
    assert valid.status_code == 200 and valid.json()["valid"] is True


async def test_managers_assign_from_their_queue_and_reps_see_their_own_leads(
    api: AsyncTestClient[Any], db: Database, staff_token: Token, assigner: Assigner, run: Any,
) -> None:
    team = unique("queue")
    await configure(db, org_of(team, max_open_leads=1), {"rules": [{"id": "q", "strategy": "manual", "team": team}]})
    lead, second = scored(), scored()
    await run(lambda uow: assigner.on_scored([lead, second], uow))
    boss = {"Authorization": staff_token(f"{team}-boss", "manager", teams=[team])}
    queued = (await api.get(f"/v1/queues/{team}-queue/leads", headers=boss)).json()
    assert {q["lead_id"] for q in queued} == {str(lead.lead_id), str(second.lead_id)}
    stranger = {"Authorization": staff_token("other-boss", "manager", teams=[f"{team}-other"])}
    assert (await api.post(f"/v1/leads/{lead.lead_id}/assign", json={"rep_id": f"{team}-a"},
                           headers=stranger)).status_code == 403
    for body, status in (({"rep_id": f"{team}-away"}, 409), ({"rep_id": "nobody"}, 422)):
        refused = await api.post(f"/v1/leads/{lead.lead_id}/assign", json=body, headers=boss)
        assert refused.status_code == status and refused.json()["detail"], refused.text
    assert (await api.post(f"/v1/leads/{uuid.uuid4()}/assign", json={"rep_id": f"{team}-a"},
                           headers=boss)).status_code == 404
    given = await api.post(f"/v1/leads/{lead.lead_id}/assign", json={"rep_id": f"{team}-a", "reason": "知道这个客户"},
                           headers=boss)
    assert given.status_code == 200 and given.json()["owner_id"] == f"{team}-a"
    full = await api.post(f"/v1/leads/{second.lead_id}/assign", json={"rep_id": f"{team}-a"}, headers=boss)
    assert full.status_code == 409 and "full" in full.json()["detail"]
    owner = {"Authorization": staff_token(f"{team}-a", "rep", teams=[team])}
    other = {"Authorization": staff_token(f"{team}-b", "rep", teams=[team])}
    seen = await api.get(f"/v1/leads/{lead.lead_id}/assignment", headers=owner)
    assert seen.status_code == 200 and [d["kind"] for d in seen.json()["decisions"]] == ["manual", "route"]
    assert (await api.get(f"/v1/leads/{lead.lead_id}/assignment", headers=other)).status_code == 403


async def test_distribution_report_and_simulation(api: AsyncTestClient[Any], db: Database, staff_token: Token,
                                                  assigner: Assigner, run: Any) -> None:
    team = unique("report")
    await configure(db, org_of(team), {"rules": [{"id": "rr", "strategy": "round_robin", "team": team}]})
    await run(lambda uow: assigner.on_scored([scored(grade=g) for g in "AABBC"], uow))
    boss = {"Authorization": staff_token(f"{team}-boss", "manager", teams=[team])}
    report = (await api.get(f"/v1/reports/distribution?team={team}", headers=boss)).json()
    assert sum(r["leads"] for r in report["reps"]) == 5 and {r["rep_id"] for r in report["reps"]} == {f"{team}-a", f"{team}-b"}
    csv = await api.get(f"/v1/reports/distribution?team={team}&format=csv", headers=boss)
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("rep_id,team_id,leads,grade_A")
    assert (await api.get("/v1/reports/distribution", headers=boss)).status_code == 403  # a manager names his team
    simulated = await api.post("/v1/rules/simulate", headers=boss, json={
        "rules": f"rules: [{{id: all-to-pool, strategy: pool, team: {team}}}]"})
    assert simulated.status_code == 200, simulated.text
    body = simulated.json()
    assert body["proposed"]["outcomes"].get("pooled", 0) >= 5 and body["current"]["outcomes"].get("assigned", 0) >= 5


def test_org_commands_load_validate_and_export(settings_env: dict[str, str], tmp_path: Path, db: Database) -> None:
    team = unique("cli")
    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"teams: [{{id: {team}, default_pool: p}}]\nreps: [{{id: a, team: {team}}}, {{id: a, team: nowhere}}]\n")
    refused = runner.invoke(org_cli, ["load", str(bad)])
    assert refused.exit_code == 1 and "reps[1].id: duplicate rep 'a'" in refused.output \
        and "reps[1].team: unknown team 'nowhere'" in refused.output and "nothing was applied" in refused.output
    good = tmp_path / "org.yaml"
    good.write_text(f"teams: [{{id: {team}, default_pool: p}}]\nreps: [{{id: {team}-a, team: {team}}}]\n")
    runner.invoke(assignment_cli, ["rules", "load", str(_empty_rules(tmp_path))])
    loaded = runner.invoke(org_cli, ["load", str(good)])
    assert loaded.exit_code == 0, loaded.output
    exported = runner.invoke(org_cli, ["export"])
    assert exported.exit_code == 0 and f"id: {team}-a" in exported.output
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"rules: [{{id: w, strategy: weighted, team: {team}}}]\n")
    simulated = runner.invoke(assignment_cli, ["simulate", "--rules", str(rules)])
    assert simulated.exit_code == 0 and "expected conversions" in simulated.output, simulated.output


def _empty_rules(tmp_path: Path) -> Path:
    path = tmp_path / "empty-rules.yaml"
    path.write_text("rules: []\n")
    return path
