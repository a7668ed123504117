"""A person posted to intake and an activity at scoring that names them by one contact only meet: both
services spell the person's contact keys alike (a WeChat id that is a phone number is their mobile)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from leadflow_localstack.testing import ServiceProcesses, eventually
from leadflow_scoring.admin import add_key
from leadflow_shared.service import Service


@pytest.fixture(scope="module")
def urls(leadflow_env: dict[str, str], migrated: dict[str, Service], tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[dict[str, str]]:
    """intake and scoring, one process each for the module."""
    env = {**leadflow_env, "LEADFLOW_KAFKA_GROUP_PREFIX": f"test-{uuid.uuid4().hex[:8]}"}
    processes = ServiceProcesses(env, tmp_path_factory.mktemp("contacts"))
    running = {name: processes.start(migrated[name]) for name in ("intake", "scoring")}
    processes.wait_ready()
    yield {name: r.url for name, r in running.items()}
    processes.stop_all()


@pytest.fixture(scope="module")
def staff(urls: dict[str, str], staff_token: Any) -> Iterator[httpx.Client]:
    """A rep reading scores (a staff token)."""
    with httpx.Client(base_url=urls["scoring"], headers={"Authorization": staff_token("rep-wang", "rep")},
                      timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def activities(urls: dict[str, str], leadflow_env: dict[str, str]) -> Iterator[httpx.Client]:
    """A partner posting activities to scoring (its API key)."""
    _, key = add_key("contacts test", "partner", dsn=leadflow_env["LEADFLOW_PG_DSN"])
    with httpx.Client(base_url=urls["scoring"], headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        yield client


def _person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"name": f"联系人{tag}", "mobile": f"137{uuid.uuid4().int % 10**8:08d}", "wechat": f"wx_{tag}",
            "email": f"p.{tag}@example.cn", "title": "IT经理"}


# The activity names the person by one contact, written as a client might write it.
BY_ONE_CONTACT: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    "mobile": lambda p: {"mobile": f"+86 {p['mobile']}"},
    "wechat": lambda p: {"wechat": p["wechat"].upper()},
    "wechat-that-is-a-phone-number": lambda p: {"wechat": p["mobile"]},
    "email": lambda p: {"email": p["email"].upper()},
}


def _score(staff: httpx.Client, lead_id: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The lead's score once `ready` says so, else None (scoring is fed by Kafka: it gets there in its time)."""
    async def probe() -> dict[str, Any] | None:
        reply = staff.get(f"/v1/leads/{lead_id}/score")
        return reply.json() if reply.status_code == 200 and ready(reply.json()) else None
    return asyncio.run(eventually(probe, timeout_s=30))


@pytest.mark.parametrize("kind", list(BY_ONE_CONTACT))
def test_an_activity_naming_one_contact_finds_the_lead_intake_received(
        kind: str, urls: dict[str, str], staff: httpx.Client, activities: httpx.Client, partner: tuple[str, str]
) -> None:
    person = _person()
    accepted = httpx.post(f"{urls['intake']}/v1/leads", json=person, timeout=30,
                          headers={"Authorization": f"Bearer {partner[1]}"})
    assert accepted.status_code == 202 and accepted.json()["outcome"] == "created", accepted.text
    lead_id = accepted.json()["lead_id"]
    assert _score(staff, lead_id, lambda s: "grade" in s), "never scored"  # scoring owns the lead's contacts now

    posted = activities.post("/v1/activities", json={**BY_ONE_CONTACT[kind](person), "type": "demo_request"})
    assert posted.status_code == 202 and posted.json()["accepted"] == 1, posted.text

    scored = _score(staff, lead_id, lambda s: s["activity_counts"].get("demo_request") == 1)
    assert scored, f"the activity never met the lead: {staff.get(f'/v1/leads/{lead_id}/score').text}"
    assert any(f["rule"] == "behaviour:demo_request" for f in scored["explanation"])
