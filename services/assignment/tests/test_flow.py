"""From leads.scored.v1 to leads.assigned.v1 through real Kafka and Postgres, and caps that hold when two
assignment processes consume the same topic at once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from leadflow_assignment import views
from leadflow_assignment.app import service
from leadflow_localstack.testing import ServiceProcesses, eventually, in_process, read_topic
from leadflow_shared.contracts import LEADS_ASSIGNED, LEADS_POOLED, LEADS_SCORED, LeadAssigned, LeadScored
from leadflow_shared.db import Database, driver_connection
from leadflow_shared.events import CloudEvent, parse_event
from leadflow_shared.kafka import ensure_topics, physical_topic
from leadflow_shared.logging import mask_text

from .conftest import configure, scored, unique


def envelope(lead: LeadScored) -> CloudEvent[LeadScored]:
    return CloudEvent[LeadScored](source="/tests/scoring", type=LEADS_SCORED.event_type, subject=str(lead.lead_id),
                                  data=lead, dataschema=LEADS_SCORED.schema_urn)


async def publish(env: dict[str, str], events: list[CloudEvent[LeadScored]]) -> None:
    await ensure_topics(env["LEADFLOW_KAFKA_BOOTSTRAP"], prefix=env["LEADFLOW_KAFKA_TOPIC_PREFIX"],
                        partitions=int(env["LEADFLOW_KAFKA_TOPIC_PARTITIONS"]))
    producer = AIOKafkaProducer(bootstrap_servers=env["LEADFLOW_KAFKA_BOOTSTRAP"], acks="all", linger_ms=5)
    await producer.start()
    try:
        topic = physical_topic(LEADS_SCORED.name, env["LEADFLOW_KAFKA_TOPIC_PREFIX"])
        sent = [await producer.send(topic, e.model_dump_json().encode(), key=e.subject.encode()) for e in events]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def decided(db: Database, lead_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    async with db.uow() as uow:
        conn = await driver_connection(uow.session)
        rows = await conn.fetch("SELECT d.* FROM unnest($1::uuid[]) AS k(id) JOIN assignment.decisions d "
                                "ON d.lead_id = k.id", lead_ids)
    return [dict(r) for r in rows]


async def test_scored_leads_are_routed_once_and_published(settings_env: dict[str, str], db: Database) -> None:
    team = unique("flow")
    reps = [f"{team}-{x}" for x in "abc"]
    await configure(db, {"teams": [{"id": team, "default_pool": f"{team}-pool"}],
                         "reps": [{"id": r, "team": team, "max_open_leads": 8} for r in reps]},
                    {"rules": [{"id": "rr", "strategy": "round_robin", "team": team}]})
    qualified = [envelope(scored()) for _ in range(30)]
    nurtured = [envelope(scored(stage="nurture")) for _ in range(5)]
    await publish(settings_env, [*qualified, *nurtured, *qualified[:10]])  # ten delivered twice
    async with in_process(service):
        prefix = settings_env["LEADFLOW_KAFKA_TOPIC_PREFIX"]
        assigned = await read_topic(settings_env["LEADFLOW_KAFKA_BOOTSTRAP"], f"{prefix}{LEADS_ASSIGNED.name}", until=24)
        pooled = await read_topic(settings_env["LEADFLOW_KAFKA_BOOTSTRAP"], f"{prefix}{LEADS_POOLED.name}", until=6)
    events = [parse_event(r.value, LeadAssigned) for r in assigned]  # type: ignore[attr-defined]
    assert len(events) == 24 and Counter(e.data.owner_id for e in events) == {r: 8 for r in reps}
    assert all(r.key == str(e.data.lead_id).encode() for r, e in zip(assigned, events))  # type: ignore[attr-defined]
    assert len(pooled) == 6
    decisions = await decided(db, [e.data.lead_id for e in qualified + nurtured])
    assert len(decisions) == 30  # once each; the nurtured wait
    assert Counter(d["outcome"] for d in decisions) == {"assigned": 24, "pooled": 6}


async def test_caps_hold_with_two_assignment_processes_consuming_at_once(
    service_processes: ServiceProcesses, service_env: dict[str, str], db: Database,
) -> None:
    """A burst of 2,000 qualified leads, two processes sharing the topic's partitions: no rep ever holds more
    than his cap, and what nobody could take went to the pool, with the reason."""
    team = unique("burst")
    reps = [f"{team}-{i}" for i in range(8)]
    await configure(db, {"teams": [{"id": team, "default_pool": f"{team}-pool"}],
                         "reps": [{"id": r, "team": team, "max_open_leads": 150} for r in reps]},
                    {"rules": [{"id": "rr", "strategy": "round_robin", "team": team}]})
    burst = [envelope(scored()) for _ in range(2000)]
    await publish(service_env, burst[:1])  # the topics exist before the processes subscribe
    first = service_processes.start(service, "assignment-1")
    second = service_processes.start(service, "assignment-2")
    service_processes.wait_ready()
    scored_topic = physical_topic(LEADS_SCORED.name, service_env["LEADFLOW_KAFKA_TOPIC_PREFIX"])
    for running in (first, second):  # each holds a partition of leads.scored.v1 before the burst comes
        assert await eventually(lambda: _holds_partition(running.log_file.read_text(), scored_topic), 60), \
            running.log_file.read_text()[-3000:]
    await publish(service_env, burst[1:])
    ids = [e.data.lead_id for e in burst]
    started = time.monotonic()
    decisions = await eventually(lambda: _all_decided(db, ids), timeout_s=120)
    assert decisions and len(decisions) == 2000, f"{len(decisions or [])} decided in {time.monotonic() - started:.0f} s"
    loads = await views.loads(db)
    assert {r: loads[r]["open_leads"] for r in reps} == {r: 150 for r in reps}
    owners = Counter(d["owner_id"] for d in decisions if d["outcome"] == "assigned")
    assert owners == {r: 150 for r in reps}
    pooled = [d for d in decisions if d["outcome"] == "pooled"]
    assert len(pooled) == 800 and {d["reason"] for d in pooled} == {"every eligible rep is full (8 full)"}
    for running in (first, second):  # both took part
        metrics = httpx.get(f"{running.url}/metrics").text
        assert 'outcome="processed",service="assignment",topic="leads.scored.v1"' in metrics, running.log_file.read_text()[-2000:]


async def _holds_partition(log: str, topic: str) -> bool:
    """The process's consumer of `topic` has been given a partition (the second to join: after the group
    rebalanced with both)."""
    logged = mask_text(topic)  # the log masks a prefix's digits that look like a phone number
    return any("assigned to partitions" in line and f"topic='{logged}'" in line for line in log.splitlines())


async def _all_decided(db: Database, ids: list[uuid.UUID]) -> list[dict[str, Any]] | None:
    rows = await decided(db, ids)
    return rows if len(rows) >= len(ids) else None
