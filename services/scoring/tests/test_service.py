"""scoring through Kafka, Postgres and HTTP (one scoring process for the module): received → scored,
activities that qualify a nurtured lead, redelivery, an activity before its lead, enrichment, rules."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from leadflow_localstack.testing import ServiceProcesses, eventually, read_topic
import asyncpg
import typer

from leadflow_scoring.admin import add_key, load_registry, train_from_outcomes
from leadflow_scoring.db import ApiKeyRepository, metadata
from leadflow_shared.auth import hash_key
from leadflow_shared.db import Database
from leadflow_shared.contracts import (
    LEADS_RECEIVED,
    LEADS_SCORED,
    OPPORTUNITIES_CLOSED,
    LeadReceived,
    LeadSnapshot,
    OpportunityClosed,
)
from leadflow_shared.events import CloudEvent
from leadflow_shared.kafka import physical_topic
from leadflow_shared.service import Service

REGISTRY_CSV = (
    "企业名称,统一社会信用代码,所属行业,人员规模,注册资本,所属省份,所属城市,成立日期,经营状态\n"
    "杭州云栖示例软件有限公司,91330106MA2GL1RQ4X,软件和信息技术服务业,500-999人,5000万元人民币,浙江,杭州,2016-03-01,存续\n"
).encode()


@pytest.fixture(scope="module")
def scoring(leadflow_env: dict[str, str], migrated: dict[str, Service], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[str]:
    env = {**leadflow_env, "LEADFLOW_KAFKA_GROUP_PREFIX": f"test-{uuid.uuid4().hex[:8]}"}
    processes = ServiceProcesses(env, tmp_path_factory.mktemp("scoring"))
    running = processes.start(migrated["scoring"])
    processes.wait_ready()
    yield running.url
    processes.stop_all()


@pytest.fixture(scope="module")
def staff(scoring: str, staff_token: Any) -> Iterator[httpx.Client]:
    """An admin's client (a staff token): reads scores, changes rules and models."""
    with httpx.Client(base_url=scoring, headers={"Authorization": staff_token("admin-zhang", "admin")},
                      timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def partner_api(scoring: str, leadflow_env: dict[str, str]) -> Iterator[httpx.Client]:
    """A partner's client (an API key): posts activities."""
    _, key = add_key("test partner", "partner", dsn=leadflow_env["LEADFLOW_PG_DSN"])
    with httpx.Client(base_url=scoring, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        yield client


def _mobile() -> str:
    return f"+86139{uuid.uuid4().int % 10**8:08d}"


def _received(lead_id: uuid.UUID, **fields: Any) -> CloudEvent[LeadReceived]:
    return CloudEvent[LeadReceived](source="/test", type=LEADS_RECEIVED.event_type, subject=str(lead_id),
                                    data=LeadReceived(lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created",
                                                      lead=LeadSnapshot(**fields)))


def _publish(env: dict[str, str], *events: CloudEvent[Any]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=env["LEADFLOW_KAFKA_BOOTSTRAP"], acks="all")
        await producer.start()
        try:
            sent = [await producer.send(physical_topic(e.topic, env["LEADFLOW_KAFKA_TOPIC_PREFIX"]), e.to_bytes(),
                                        key=e.subject.encode()) for e in events]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    asyncio.run(send())


def _score(staff: httpx.Client, lead_id: uuid.UUID, until: Any = lambda s: True) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        reply = staff.get(f"/v1/leads/{lead_id}/score")
        return reply.json() if reply.status_code == 200 and until(reply.json()) else None

    found = asyncio.run(eventually(probe, timeout_s=30))
    assert found, f"lead {lead_id} was not scored as expected: {staff.get(f'/v1/leads/{lead_id}/score').text}"
    return found


def _scored_events(env: dict[str, str], lead_id: uuid.UUID, at_least: int = 1) -> list[dict[str, Any]]:
    topic = physical_topic(LEADS_SCORED.name, env["LEADFLOW_KAFKA_TOPIC_PREFIX"])

    async def read() -> list[dict[str, Any]]:
        records = await read_topic(env["LEADFLOW_KAFKA_BOOTSTRAP"], topic, until=10**6, timeout_s=3)
        events = [json.loads(r.value) for r in records]  # type: ignore[attr-defined]
        return [e for e in events if e["subject"] == str(lead_id)]

    async def probe() -> list[dict[str, Any]] | None:
        found = await read()
        return found if len(found) >= at_least else None

    return asyncio.run(eventually(probe, timeout_s=30)) or []


def test_a_received_lead_is_scored_and_published_with_its_explanation(
        staff: httpx.Client, leadflow_env: dict[str, str]) -> None:
    lead_id = uuid.uuid4()
    _publish(leadflow_env, _received(lead_id, mobile=_mobile(), title="CTO", industry="软件和信息技术服务业",
                                     source="referral", company_name="上海某某网络科技有限公司"))
    score = _score(staff, lead_id)
    rules = {f["rule"] for f in score["explanation"]}
    assert {"fit:title_executive", "fit:industry_core", "fit:source_referral"} <= rules
    assert score["stage"] == "nurture" and score["rules_version"] == "cn-b2b-saas-2025.1"
    assert abs(sum(f["points"] for f in score["explanation"]) - score["score"]) < 0.5
    [event] = _scored_events(leadflow_env, lead_id)
    assert event["data"]["grade"] == score["grade"] and event["data"]["explanation"]


def test_activities_push_a_nurtured_lead_over_the_threshold(staff: httpx.Client, partner_api: httpx.Client, leadflow_env: dict[str, str]) -> None:
    lead_id, mobile = uuid.uuid4(), _mobile()
    _publish(leadflow_env, _received(lead_id, mobile=mobile, title="IT经理", industry="制造业"))
    assert _score(staff, lead_id)["stage"] == "nurture"
    now = datetime.now(UTC).isoformat()
    reply = partner_api.post("/v1/activities", json={"activities": [
        {"lead_id": str(lead_id), "type": "demo_request", "occurred_at": now},
        {"mobile": mobile.replace("+86", "0086 "), "type": "trial_signup", "occurred_at": now},
        {"lead_id": str(lead_id), "type": "page_view", "url": "https://example.cn/pricing", "occurred_at": now},
        {"type": "page_view"},  # names no lead: refused, the others still go
    ]})
    assert reply.status_code == 202, reply.text
    assert (reply.json()["accepted"], reply.json()["rejected"]) == (3, 1)
    score = _score(staff, lead_id, until=lambda s: s["stage"] == "mql")
    assert score["activity_counts"] == {"demo_request": 1, "trial_signup": 1, "page_view": 1}
    assert any(f["rule"] == "behaviour:demo_request" for f in score["explanation"])
    events = _scored_events(leadflow_env, lead_id, at_least=2)
    assert events[-1]["data"]["stage"] == "mql"
    assert _stored_activities(leadflow_env, lead_id) == {"applied": 3}  # the one named by mobile too


def _stored_activities(env: dict[str, str], lead_id: uuid.UUID) -> dict[str, int]:
    """The lead's activities in scoring's table, applied or waiting."""
    async def count() -> dict[str, int]:
        conn = await asyncpg.connect(env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
        try:
            rows = await conn.fetch("SELECT applied_at IS NOT NULL AS applied, count(*) AS n FROM scoring.activities "
                                    "WHERE lead_id = $1 GROUP BY 1", lead_id)
        finally:
            await conn.close()
        return {"applied" if r["applied"] else "waiting": r["n"] for r in rows}

    return asyncio.run(count())


def test_a_redelivered_event_changes_nothing(staff: httpx.Client, partner_api: httpx.Client, leadflow_env: dict[str, str]) -> None:
    lead_id = uuid.uuid4()
    event = _received(lead_id, mobile=_mobile(), title="总监")
    for _ in range(3):
        _publish(leadflow_env, event)
    first = _score(staff, lead_id)
    activity = {"activity_id": str(uuid.uuid4()), "lead_id": str(lead_id), "type": "event_attended",
                "occurred_at": datetime.now(UTC).isoformat()}
    for _ in range(2):  # a client retrying the same activity
        assert partner_api.post("/v1/activities", json=activity).status_code == 202
    after = _score(staff, lead_id, until=lambda s: s["activity_counts"])
    asyncio.run(asyncio.sleep(2))
    assert staff.get(f"/v1/leads/{lead_id}/score").json()["activity_counts"] == {"event_attended": 1}
    assert len(_scored_events(leadflow_env, lead_id)) == 2  # received once, the activity once
    assert after["score"] > first["score"]


def test_an_activity_before_its_lead_counts_when_the_lead_arrives(
        staff: httpx.Client, partner_api: httpx.Client, leadflow_env: dict[str, str]) -> None:
    mobile, email = _mobile(), f"{uuid.uuid4().hex[:8]}@example.cn"
    reply = partner_api.post("/v1/activities", json={"activities": [
        {"email": email.upper(), "type": "demo_request", "occurred_at": datetime.now(UTC).isoformat()},
        {"mobile": mobile, "type": "wechat_friend_added", "occurred_at": datetime.now(UTC).isoformat()},
    ]})
    assert reply.status_code == 202
    asyncio.run(asyncio.sleep(2))  # the activities are stored, waiting for their lead
    lead_id = uuid.uuid4()
    _publish(leadflow_env, _received(lead_id, mobile=mobile, email=email))
    score = _score(staff, lead_id)
    assert score["activity_counts"] == {"demo_request": 1, "wechat_friend_added": 1}
    assert _stored_activities(leadflow_env, lead_id) == {"applied": 2}


def test_the_registry_fills_a_leads_blanks_and_records_the_match(
        staff: httpx.Client, leadflow_env: dict[str, str], tmp_path: Any) -> None:
    path = tmp_path / "registry.csv"
    path.write_bytes(REGISTRY_CSV)
    loaded, rejected = load_registry(path, source="qcc-2026-11", dsn=leadflow_env["LEADFLOW_PG_DSN"])
    assert (loaded, rejected) == (1, [])
    lead_id = uuid.uuid4()
    _publish(leadflow_env, _received(lead_id, mobile=_mobile(), company_name="杭州雲棲示例軟件有限公司", title="CEO"))
    score = _score(staff, lead_id)
    assert score["enrichment"]["matched_by"] == "name" and score["enrichment"]["source"] == "qcc-2026-11"
    assert {"industry", "employees", "registered_capital"} <= set(score["enrichment"]["filled"])
    rules = {f["rule"] for f in score["explanation"]}
    assert {"fit:industry_core", "fit:size_enterprise", "fit:registered_capital_large"} <= rules


def test_rules_are_validated_simulated_and_swapped(staff: httpx.Client, leadflow_env: dict[str, str]) -> None:
    bad = staff.put("/v1/rules", content="version: x\nfit:\n  - {id: a, when: {field: title, contians: CEO}, points: 5}\n")
    assert bad.status_code == 422
    assert any(e["field"].startswith("fit[0].when") for e in bad.json()["errors"]), bad.text
    lead_id = uuid.uuid4()
    _publish(leadflow_env, _received(lead_id, mobile=_mobile(), title="市场经理"))
    _score(staff, lead_id)
    generous = ("version: generous-1\ngrades: {A: 80, B: 60, C: 40}\nqualification: {mql_score: 5}\n"
                "fit:\n  - {id: any_title, when: {field: title, exists: true}, points: 90}\n")
    report = staff.post("/v1/rules/simulate", content=generous)
    assert report.status_code == 200, report.text
    assert report.json()["leads"] >= 1 and report.json()["changed"] >= 1
    assert report.json()["grades"]["proposed"].get("A", 0) >= 1
    assert staff.get(f"/v1/leads/{lead_id}/score").json()["rules_version"] == "cn-b2b-saas-2025.1"  # unchanged
    original = staff.get("/v1/rules").json()
    try:
        assert staff.put("/v1/rules", content=generous).json() == {"active_version": "generous-1"}
        other = uuid.uuid4()
        _publish(leadflow_env, _received(other, mobile=_mobile(), title="市场经理"))
        assert _score(staff, other)["grade"] == "A"
        # the lead scored before the swap: re-scored under the new rules at once by the command
        rescored = subprocess.run([str(Path(sys.executable).parent / "leadflow"), "scoring", "rescore"],
                                  env={**leadflow_env, "PATH": ""}, capture_output=True, text=True, timeout=120)
        assert rescored.returncode == 0, rescored.stderr
        after = staff.get(f"/v1/leads/{lead_id}/score").json()
        assert (after["rules_version"], after["grade"]) == ("generous-1", "A")
    finally:
        staff.put("/v1/rules", content=original["yaml"])


def test_roles_and_keys_decide_who_may_do_what(scoring: str, staff_token: Any, partner_api: httpx.Client,
                                              leadflow_env: dict[str, str]) -> None:
    def call(method: str, path: str, auth: str | None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": auth} if auth else {}
        return httpx.request(method, f"{scoring}{path}", headers=headers, timeout=30, **kw)

    nobody = call("GET", "/v1/rules", None)
    assert nobody.status_code == 401 and nobody.json()["detail"].startswith("a staff token is needed")
    assert nobody.headers["www-authenticate"].startswith('Bearer realm="leadflow", error="invalid_token"')
    partner_key = partner_api.headers["authorization"]
    assert call("GET", "/v1/rules", partner_key).status_code == 401  # a partner's key is no staff token
    rep, manager = staff_token("rep-wang", "rep"), staff_token("mgr-li", "manager", teams=["east"])
    assert call("GET", f"/v1/leads/{uuid.uuid4()}/score", rep).status_code == 404  # admitted; never scored
    refused = httpx.get(f"{scoring}/v1/rules", headers={"Authorization": rep, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert refused.status_code == 403 and refused.json()["detail"] == "需要以下角色之一：manager, admin"
    assert call("GET", "/v1/rules", manager).status_code == 200
    rules = call("GET", "/v1/rules", manager).json()["yaml"]
    assert call("POST", "/v1/rules/validate", manager, content=rules).json()["valid"] is True
    assert call("PUT", "/v1/rules", manager, content=rules).status_code == 403  # admins change the rules
    assert call("POST", "/v1/models/none/activate", manager).status_code == 403
    assert call("POST", "/v1/models/none/activate", staff_token("root", "admin")).status_code == 404

    activity = {"mobile": _mobile(), "type": "form_submit"}
    assert call("POST", "/v1/activities", partner_key, json=activity).status_code == 202
    assert call("POST", "/v1/activities", manager, json=activity).status_code == 401  # partners' keys only
    with pytest.raises(typer.BadParameter, match="leadflow staff token"):
        add_key("ops", "staff", dsn=leadflow_env["LEADFLOW_PG_DSN"])
    # a staff key made before staff tokens no longer opens anything
    old_key = f"ls_{uuid.uuid4().hex}"

    async def keep_old_key() -> None:
        db = Database(leadflow_env["LEADFLOW_PG_DSN"], metadata, "/leadflow/scoring-test", pool_size=1)
        try:
            async with db.uow() as uow:
                await ApiKeyRepository(uow.session).add(f"k_{uuid.uuid4().hex[:6]}", "old ops", "staff",
                                                         hash_key(old_key))
                await uow.commit()
        finally:
            await db.dispose()

    asyncio.run(keep_old_key())
    assert call("POST", "/v1/activities", f"Bearer {old_key}", json=activity).status_code == 403
    assert call("GET", "/v1/rules", f"Bearer {old_key}").status_code == 401


def test_a_model_learned_from_outcomes_is_swapped_in_and_explains_its_scores(
        staff: httpx.Client, leadflow_env: dict[str, str], tmp_path: Any) -> None:
    outcomes, received = {}, []
    for i in range(180):  # enough for the boosted trees' smallest leaf (40 leads); most leads are lost
        won, lead_id = i % 3 == 0, uuid.uuid4()
        outcomes[lead_id] = "won" if won else "lost"
        received.append(_received(lead_id, mobile=_mobile(), title="CTO" if won else "行政专员",
                                  industry="软件和信息技术服务业" if won else "批发和零售业",
                                  custom={"budget_band": "high" if won else "low"}))
    _publish(leadflow_env, *received)
    _publish(leadflow_env, *(CloudEvent[OpportunityClosed](  # as the opportunity service reports them
        source="/test", type=OPPORTUNITIES_CLOSED.event_type, subject=str(lead_id),
        data=OpportunityClosed(opportunity_id=uuid.uuid4(), lead_id=lead_id, outcome=outcome,
                               closed_at=datetime.now(UTC))) for lead_id, outcome in outcomes.items()))

    async def recorded() -> bool:
        conn = await asyncpg.connect(leadflow_env["LEADFLOW_PG_DSN"].replace("+asyncpg", ""))
        try:
            return await conn.fetchval("SELECT count(*) FROM scoring.lead_outcomes WHERE lead_id = ANY($1::uuid[])",
                                       list(outcomes)) == len(outcomes)
        finally:
            await conn.close()

    assert asyncio.run(eventually(recorded)), "the outcomes were not recorded"
    info = train_from_outcomes(tmp_path / "model", folds=3, dsn=leadflow_env["LEADFLOW_PG_DSN"])
    assert info.training_rows >= len(outcomes)
    assert staff.post(f"/v1/models/{info.version}/activate").json() == {"active_version": info.version}
    lead_id = uuid.uuid4()
    _publish(leadflow_env, _received(lead_id, mobile=_mobile(), title="CTO", industry="软件和信息技术服务业",
                                     custom={"budget_band": "high"}))
    score = _score(staff, lead_id)
    assert score["model_version"] == info.version and score["probability"] > 0.5
    assert any(f["rule"] == "predictive" for f in score["explanation"])
    assert score["predictive_factors"], score


def test_a_retried_or_future_dated_activity_does_not_distort_the_score(
        staff: httpx.Client, partner_api: httpx.Client, leadflow_env: dict[str, str]) -> None:
    lead_id = uuid.uuid4()
    _publish(leadflow_env, _received(lead_id, mobile=_mobile(), title="经理"))
    _score(staff, lead_id)
    same = {"activity_id": str(uuid.uuid4()), "lead_id": str(lead_id), "type": "form_submit",
            "occurred_at": datetime.now(UTC).isoformat()}
    future = {"lead_id": str(lead_id), "type": "demo_request",
              "occurred_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()}
    reply = partner_api.post("/v1/activities", json={"activities": [same, same, future, {"mobile": "12", "type": "x"}]})
    assert [r["status"] for r in reply.json()["results"]] == ["accepted", "accepted", "rejected", "rejected"]
    assert reply.json()["results"][2]["errors"][0]["code"] == "in_the_future"
    assert reply.json()["results"][3]["errors"][0]["code"] == "invalid_contact"
    score = _score(staff, lead_id, until=lambda s: s["activity_counts"])
    asyncio.run(asyncio.sleep(1.5))
    assert staff.get(f"/v1/leads/{lead_id}/score").json()["activity_counts"] == {"form_submit": 1}
    assert score["activity_counts"] == {"form_submit": 1}
