"""Idempotent consumers and dead letters, on real Kafka and Postgres."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from prometheus_client import REGISTRY

from leadflow_localstack.testing import eventually, in_process, produce, read_topic
from leadflow_scoring import db as scoring_db
from leadflow_scoring.app import service as scoring
from leadflow_shared.consumers import Subscription
from leadflow_shared.contracts import LEADS_RECEIVED, LeadReceived, LeadSnapshot
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent
from leadflow_shared.service import Container, Service
from leadflow_shared.settings import LeadflowSettings


def received_event(name: str = "赵敏") -> CloudEvent[LeadReceived]:
    lead_id = uuid.uuid4()
    return CloudEvent[LeadReceived](
        source="/tests", type=LEADS_RECEIVED.event_type, subject=str(lead_id),
        data=LeadReceived(lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created",
                          lead=LeadSnapshot(name=name, mobile="+8613900139000")),
    )


async def _fetch(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg", "postgresql"))
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def test_a_redelivered_event_changes_nothing(settings_env: dict[str, str]) -> None:
    bootstrap, prefix, dsn = (settings_env[k] for k in
                              ("LEADFLOW_KAFKA_BOOTSTRAP", "LEADFLOW_KAFKA_TOPIC_PREFIX", "LEADFLOW_PG_DSN"))
    event = received_event()
    duplicates_before = _duplicates()
    async with in_process(scoring):
        for _ in range(3):  # the producer retried, or a partner replayed: same event id each time
            await produce(bootstrap, f"{prefix}{LEADS_RECEIVED.name}", event.to_bytes(), key=event.subject.encode(),
                          headers=event.kafka_headers())
        processed = lambda: _fetch(dsn, "SELECT count(*) FROM scoring.processed_events WHERE event_id = $1", event.id)
        assert await eventually(processed) == 1
        # wait until all three copies were consumed, then check the effects happened once
        scored_outbox = "SELECT count(*) FROM scoring.outbox WHERE key = $1 AND topic = 'leads.scored.v1'"
        # the copies leave no row: the consumer's own count shows it has seen and skipped them
        assert await eventually(lambda: _true(_duplicates() - duplicates_before >= 2), timeout_s=30)
    assert await _fetch(dsn, "SELECT count(*) FROM scoring.leads WHERE lead_id = $1", event.data.lead_id) == 1
    assert await _fetch(dsn, scored_outbox, event.subject) == 1


def _duplicates() -> float:
    return REGISTRY.get_sample_value(
        "leadflow_events_consumed_total", {"service": "scoring", "topic": "leads.received.v1", "outcome": "duplicate"}
    ) or 0.0


async def test_a_malformed_message_goes_to_the_dlq_at_once(settings_env: dict[str, str]) -> None:
    bootstrap, prefix = settings_env["LEADFLOW_KAFKA_BOOTSTRAP"], settings_env["LEADFLOW_KAFKA_TOPIC_PREFIX"]
    garbage = f"not a cloudevent {uuid.uuid4()}".encode()
    async with in_process(scoring):
        await produce(bootstrap, f"{prefix}{LEADS_RECEIVED.name}", garbage, key=b"k")
        dead = await eventually(lambda: _dead_letters(bootstrap, f"{prefix}{LEADS_RECEIVED.dlq}", garbage))
    assert dead, "the malformed message never reached the DLQ"
    headers = dict((k, v.decode()) for k, v in dead[0].headers)
    assert headers["x-leadflow-error-type"] == "MalformedEvent"
    assert headers["x-leadflow-attempts"] == "0"
    assert headers["x-leadflow-original-topic"] == f"{prefix}{LEADS_RECEIVED.name}"


async def test_a_handler_that_keeps_failing_dead_letters_the_event_and_moves_on(settings_env: dict[str, str]) -> None:
    bootstrap, prefix, dsn = (settings_env[k] for k in
                              ("LEADFLOW_KAFKA_BOOTSTRAP", "LEADFLOW_KAFKA_TOPIC_PREFIX", "LEADFLOW_PG_DSN"))
    handled: list[str] = []

    async def fails_on_poison(event: CloudEvent[LeadReceived], uow: UnitOfWork) -> None:
        if event.data.lead.name == "poison":
            raise RuntimeError("registry lookup exploded")
        handled.append(event.subject)

    flaky = Service(name="scoring", http_port=0, metadata=scoring_db.metadata, settings_class=LeadflowSettings,
                    bootstrap=Container, subscriptions=lambda _: [Subscription(LEADS_RECEIVED, fails_on_poison)])
    poison, healthy = received_event("poison"), received_event("健康")
    async with in_process(flaky):
        for event in (poison, healthy):
            await produce(bootstrap, f"{prefix}{LEADS_RECEIVED.name}", event.to_bytes(), key=event.subject.encode())
        assert await eventually(lambda: _true(healthy.subject in handled)), "the consumer did not move on"
        dead = await eventually(lambda: _dead_letters(bootstrap, f"{prefix}{LEADS_RECEIVED.dlq}", poison.to_bytes()))
    assert dead, "the poison event never reached the DLQ"
    headers = dict((k, v.decode()) for k, v in dead[0].headers)
    assert headers["x-leadflow-attempts"] == "3"
    assert headers["x-leadflow-error-type"] == "RuntimeError"
    assert "registry lookup exploded" in headers["x-leadflow-error"]
    assert await _fetch(dsn, "SELECT count(*) FROM scoring.processed_events WHERE event_id = $1", poison.id) == 0


async def _true(value: bool) -> bool:
    return value


async def _dead_letters(bootstrap: str, topic: str, value: bytes) -> list[Any]:
    return [r for r in await read_topic(bootstrap, topic, until=10**6, timeout_s=2) if r.value == value]
