"""One lead through all five services, each a real process on real Postgres, Kafka and Temporal."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from leadflow_assignment.cli import load_org, load_rules
from leadflow_localstack.testing import ServiceProcesses
from leadflow_shared.service import Service

MOBILE = f"138{uuid.uuid4().int % 10**8:08d}"  # a person no other test of the session has posted
# A director: a fit rule fires, so the score has an explanation whatever else the session has set up.
LEAD = {"name": "王芳", "mobile": MOBILE, "company_name": "杭州样例网络有限公司", "referrer": "rep-zhou",
        "source": "website", "title": "销售总监",
        # BANT answers (预算, 决策人, 需求, 时间): a marketing-qualified lead, which assignment routes
        "bant": {"budget": "预算50万", "authority": "决策人", "need": "替换现有CRM", "timeline": "3个月内"}}


def _poll(url: str, ready: Any, timeout_s: float = 60, headers: dict[str, str] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = httpx.get(url, timeout=5, headers=headers)
        if response.status_code == 200:
            last = response.json()
            if ready(last):
                return last
        time.sleep(0.3)
    raise AssertionError(f"{url} never showed the lead's progress; last view: {last}")


def test_a_lead_passes_through_all_five_services(
    service_processes: ServiceProcesses, migrated: dict[str, Service], partner: tuple[str, str],
    service_env: dict[str, str], staff_token: Any,
) -> None:
    auth = {"Authorization": f"Bearer {partner[1]}"}
    staff = {"Authorization": staff_token("rep-zhou", "rep")}  # the owner, as his staff token names him
    # rep-zhou is a rep of the organisation (a referral goes back to him; a stranger's would not)
    load_rules("rules: []", dsn=service_env["LEADFLOW_PG_DSN"])
    load_org("teams: [{id: smoke, default_pool: smoke-pool}]\nreps: [{id: rep-zhou, team: smoke}]",
             dsn=service_env["LEADFLOW_PG_DSN"])
    load_rules("rules: [{id: referral, when: {referral: true}, strategy: referral_to_original_rep}]",
               dsn=service_env["LEADFLOW_PG_DSN"])
    pipeline = ["intake", "scoring", "assignment", "pool", "opportunity"]  # a lead's path; not the console nor notify
    assert set(pipeline) < set(migrated)
    running = {name: service_processes.start(migrated[name]) for name in pipeline}
    service_processes.wait_ready()

    for r in running.values():
        ready = httpx.get(f"{r.url}/health/ready").json()
        components = {"pool": {"temporal", "calendar", "collusion-watch"}, "intake": {"imports"}, "scoring": {"active-version-watcher", "rescore",
                                                                                   "waiting-activity-expiry"}}
        expected = {"postgres", "kafka", "outbox"} | components.get(r.service.name, set())
        assert set(ready["checks"]) == expected and set(ready["checks"].values()) == {"ok"}, ready
        assert httpx.get(f"{r.url}/health/live").json() == {"status": "ok"}

    accepted = httpx.post(f"{running['intake'].url}/v1/leads", json=LEAD, timeout=10, headers=auth)
    assert accepted.status_code == 202, accepted.text
    lead_id = accepted.json()["lead_id"]

    score = _poll(f"{running['scoring'].url}/v1/leads/{lead_id}/score", lambda v: "grade" in v, headers=staff)
    assert score["stage"] == "mql" and "fit:title_director" in {f["rule"] for f in score["explanation"]}
    assignment = _poll(f"{running['assignment'].url}/v1/leads/{lead_id}/assignment", lambda v: True, headers=staff)
    assert (assignment["status"], assignment["owner_id"]) == ("assigned", "rep-zhou")
    assert assignment["decisions"][0]["rule"] == "referral"
    pool = _poll(f"{running['pool'].url}/v1/leads/{lead_id}", lambda v: v.get("status") == "owned", headers=staff)
    assert pool["status"] == "owned" and pool["ownership_seq"] == 1 and pool["owner_id"] == "rep-zhou"
    assert pool["next_deadline"] is not None and pool["deadline_kind"] == "first_follow_up"
    opportunity = _poll(f"{running['opportunity'].url}/v1/leads/{lead_id}", lambda v: True, headers=staff)
    assert (opportunity["owner_id"], opportunity["status"]) == ("rep-zhou", "open")
    intake = _poll(f"{running['intake'].url}/v1/leads/{lead_id}", lambda v: v["status"] == "assigned", headers=auth)
    assert intake["submissions"][0]["fields"]["mobile"] == MOBILE

    metrics = httpx.get(f"{running['scoring'].url}/metrics").text
    assert 'leadflow_events_consumed_total{outcome="processed",service="scoring",topic="leads.received.v1"}' in metrics
    assert "leadflow_outbox_published_total" in metrics
    assert httpx.get(f"{running['intake'].url}/schema/openapi.json").json()["info"]["title"] == "leadflow intake"

    logs = {name: r.log_file for name, r in running.items()}
    exit_codes = service_processes.stop_all()
    # uvicorn re-raises SIGTERM after its graceful shutdown, so -15 is a clean exit too
    assert set(exit_codes.values()) <= {0, -15}, f"not a graceful shutdown: {exit_codes}"
    for name, log_file in logs.items():
        assert '"event": "service stopped"' in log_file.read_text(), f"{name} did not finish its shutdown"
