"""Batch consumers (BatchSubscription), on real Kafka and Postgres.

The events are produced before the service starts, so its first polls find them waiting and hand them
over in batches; the handler writes a row per event (set-wise, in the batch's transaction).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY
from sqlalchemy import BigInteger, Column, Identity, Integer, String, Table, Uuid, text
from sqlalchemy.ext.asyncio import create_async_engine

from leadflow_localstack.testing import eventually, in_process, read_topic
from leadflow_shared.consumers import BatchSubscription, Lanes, split_lanes
from leadflow_shared.contracts import LEADS_RECEIVED, LeadReceived, LeadSnapshot
from leadflow_shared.db import Database, UnitOfWork, insert_rows, service_metadata
from leadflow_shared.errors import TransientError
from leadflow_shared.events import CloudEvent
from leadflow_shared.kafka import ensure_topics
from leadflow_shared.service import Container, Service
from leadflow_shared.settings import LeadflowSettings

SCHEMA = "batchtest"
metadata = service_metadata(SCHEMA)
applied = Table(
    "applied",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),  # the order rows were written in
    Column("event_id", Uuid, nullable=False),
    Column("subject", String(64), nullable=False),
    Column("n", Integer, nullable=False),
)

BatchHandler = Callable[[list[CloudEvent[Any]], UnitOfWork], Awaitable[None]]


@pytest.fixture(scope="session")
async def batch_schema(test_database: str) -> str:
    """The test service's schema: outbox, processed_events and the rows its handler writes."""
    engine = create_async_engine(test_database)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()
    return test_database


def lead_event(subject: str, n: int, name: str | None = None) -> CloudEvent[LeadReceived]:
    return CloudEvent[LeadReceived](
        source="/tests", type=LEADS_RECEIVED.event_type, subject=subject,
        data=LeadReceived(lead_id=uuid.UUID(subject), submission_id=uuid.uuid4(), outcome="created",
                          lead=LeadSnapshot(name=name or f"seq {n}", mobile="+8613900139000")),
    )


def lead_events(keys: int, per_key: int) -> list[CloudEvent[LeadReceived]]:
    """per_key events for each of `keys` leads, interleaved; n is the event's rank within its lead."""
    subjects = [str(uuid.uuid4()) for _ in range(keys)]
    return [lead_event(subject, n) for n in range(per_key) for subject in subjects]


def _n(event: CloudEvent[Any]) -> int:
    name = event.data.lead.name
    return int(name.removeprefix("seq ")) if name.startswith("seq ") else -1


class Recorder:
    """A batch handler that writes one `applied` row per event, set-wise; `fail` may raise after it."""

    def __init__(self, fail: Callable[[list[CloudEvent[Any]]], None] = lambda events: None) -> None:
        self.calls: list[list[CloudEvent[Any]]] = []
        self._fail = fail

    async def __call__(self, events: list[CloudEvent[Any]], uow: UnitOfWork) -> None:
        self.calls.append(list(events))
        rows = [{"event_id": e.id, "subject": e.subject, "n": _n(e)} for e in events]
        await insert_rows(uow.session, [(applied, rows)])
        self._fail(events)  # after the writes: a failure must roll them back

    @property
    def handled(self) -> int:
        return sum(len(c) for c in self.calls)


def batch_service(handler: BatchHandler, max_records: int = 500, lanes: Lanes | None = None
                  ) -> Service[LeadflowSettings, Container[LeadflowSettings]]:
    return Service(name="batchtest", http_port=0, metadata=metadata, settings_class=LeadflowSettings,
                   bootstrap=Container, subscriptions=lambda _: [
                       BatchSubscription(LEADS_RECEIVED, handler, max_records=max_records, lanes=lanes)])


def by_subject(lanes: int) -> Lanes:
    async def split(events: list[CloudEvent[Any]]) -> list[list[CloudEvent[Any]]]:
        return split_lanes(events, lambda e: e.subject, lanes)
    return split


class Overlap:
    """A batch handler (a Recorder's writes) that stays a moment in its transaction and counts how many of
    its calls were in at once."""

    def __init__(self) -> None:
        self.recorder, self.inside, self.most = Recorder(), 0, 0

    async def __call__(self, events: list[CloudEvent[Any]], uow: UnitOfWork) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            await self.recorder(events, uow)
            await asyncio.sleep(0.05)
        finally:
            self.inside -= 1


@pytest.fixture
async def env(
    leadflow_env: dict[str, str], batch_schema: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, str]]:
    """This test's settings (own consumer group and topics, as `settings_env` gives them) set in this
    process, its topics created so events can wait there before the service starts. Built on
    `leadflow_env` rather than `settings_env`: these tests need no other service's migrations."""
    run = uuid.uuid4().hex[:8]
    env = {**leadflow_env, "LEADFLOW_KAFKA_GROUP_PREFIX": f"test-{run}",
           "LEADFLOW_KAFKA_TOPIC_PREFIX": f"{leadflow_env['LEADFLOW_KAFKA_TOPIC_PREFIX']}{run}."}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    await ensure_topics(env["LEADFLOW_KAFKA_BOOTSTRAP"], prefix=env["LEADFLOW_KAFKA_TOPIC_PREFIX"],
                        partitions=int(env["LEADFLOW_KAFKA_TOPIC_PARTITIONS"]))
    yield env


async def produce_all(env: dict[str, str], messages: list[tuple[bytes | None, bytes]]) -> None:
    """(key, value) pairs to leads.received, in order (so in order per partition), one producer."""
    producer = AIOKafkaProducer(bootstrap_servers=env["LEADFLOW_KAFKA_BOOTSTRAP"], acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        topic = f"{env['LEADFLOW_KAFKA_TOPIC_PREFIX']}{LEADS_RECEIVED.name}"
        sent = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def as_messages(events: list[CloudEvent[Any]]) -> list[tuple[bytes | None, bytes]]:
    return [(e.subject.encode(), e.to_bytes()) for e in events]


async def query(env: dict[str, str], sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def applied_count(env: dict[str, str], events: list[CloudEvent[Any]]) -> int:
    rows = await query(env, f"SELECT count(*) FROM {SCHEMA}.applied WHERE event_id = ANY($1::uuid[])",
                       [e.id for e in events])
    return rows[0][0]


async def ranks_per_subject(env: dict[str, str], events: list[CloudEvent[Any]]) -> dict[str, list[int]]:
    """Each lead's events' ranks (n) in the order their rows were written."""
    rows = await query(env, f"SELECT subject, n FROM {SCHEMA}.applied WHERE event_id = ANY($1::uuid[])"
                       " ORDER BY seq", [e.id for e in events])
    order: dict[str, list[int]] = {}
    for row in rows:
        order.setdefault(row["subject"], []).append(row["n"])
    return order


async def processed_count(env: dict[str, str], events: list[CloudEvent[Any]]) -> int:
    rows = await query(env, f"SELECT count(*) FROM {SCHEMA}.processed_events WHERE event_id = ANY($1::uuid[])",
                       [e.id for e in events])
    return rows[0][0]


def consumed(outcome: str) -> float:
    return REGISTRY.get_sample_value("leadflow_events_consumed_total", {
        "service": "batchtest", "topic": LEADS_RECEIVED.name, "outcome": outcome}) or 0.0


def failures() -> float:
    return REGISTRY.get_sample_value("leadflow_event_handler_failures_total", {
        "service": "batchtest", "topic": LEADS_RECEIVED.name}) or 0.0


async def dead_letters(env: dict[str, str], value: bytes) -> list[Any]:
    topic = f"{env['LEADFLOW_KAFKA_TOPIC_PREFIX']}{LEADS_RECEIVED.dlq}"
    records = await read_topic(env["LEADFLOW_KAFKA_BOOTSTRAP"], topic, timeout_s=10)
    return [r for r in records if r.value == value]


async def committed(env: dict[str, str]) -> int:
    """Records of leads.received the test service's group has committed (its topic is the test's own)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=env["LEADFLOW_KAFKA_BOOTSTRAP"])
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{env['LEADFLOW_KAFKA_GROUP_PREFIX']}-batchtest.{LEADS_RECEIVED.name}")
    finally:
        await admin.close()
    topic = f"{env['LEADFLOW_KAFKA_TOPIC_PREFIX']}{LEADS_RECEIVED.name}"
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic)


async def _true(value: bool) -> bool:
    return value


async def reaches(count: Awaitable[int], target: int) -> bool:
    return await count >= target


# --- UnitOfWork.mark_processed_many ---------------------------------------------------------------


async def test_mark_processed_many_returns_the_fresh_ids_once(batch_schema: str) -> None:
    db = Database(batch_schema, metadata, "/tests")
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        async with db.uow() as uow:
            assert await uow.mark_processed_many([], "t") == set()
            fresh = await uow.mark_processed_many([a, b, a], "t")  # a copy within the batch counts once
            await uow.commit()
        assert fresh == {a, b} and all(isinstance(i, uuid.UUID) for i in fresh)
        async with db.uow() as uow:
            assert await uow.mark_processed_many([a, c, b], "t") == {c}
            # not committed: c stays unprocessed
        async with db.uow() as uow:
            assert await uow.mark_processed_many([c], "t") == {c}
            assert await uow.mark_processed(a, "t") is False  # one table for both paths
            await uow.commit()
        rows = await query({"LEADFLOW_PG_DSN": batch_schema},
                           f"SELECT topic FROM {SCHEMA}.processed_events WHERE event_id = ANY($1::uuid[])",
                           [a, b, c])
        assert [r["topic"] for r in rows] == ["t"] * 3
    finally:
        await db.dispose()


# --- batch consumption over Kafka ------------------------------------------------------------------


async def test_a_batch_is_applied_exactly_once_in_order_per_key(env: dict[str, str]) -> None:
    events = lead_events(keys=10, per_key=30)
    await produce_all(env, as_messages(events))
    handler = Recorder()
    async with in_process(batch_service(handler, max_records=100)):
        assert await eventually(lambda: _true(handler.handled >= len(events)), timeout_s=30)
    assert handler.handled == len(events)
    assert max(len(call) for call in handler.calls) > 1, "the events were not batched"
    assert max(len(call) for call in handler.calls) <= 100
    assert await applied_count(env, events) == len(events)
    assert await processed_count(env, events) == len(events)
    assert await ranks_per_subject(env, events) == {e.subject: list(range(30)) for e in events}
    # each batch acked: the group's committed offsets cover every record
    assert await committed(env) == len(events)


async def test_redelivered_events_change_nothing(env: dict[str, str]) -> None:
    events = lead_events(keys=5, per_key=10)
    # every event twice from the start (a producer's retry lands in the same batch) ...
    await produce_all(env, as_messages([e for e in events for _ in range(2)]))
    duplicates_before = consumed("duplicate")
    handler = Recorder()
    async with in_process(batch_service(handler)):
        assert await eventually(lambda: _true(consumed("duplicate") - duplicates_before >= len(events)))
        assert await applied_count(env, events) == len(events)
        # ... and all of them once more, after they were applied (a replay)
        await produce_all(env, as_messages(events))
        assert await eventually(lambda: _true(consumed("duplicate") - duplicates_before >= 2 * len(events)))
    assert consumed("duplicate") - duplicates_before == 2 * len(events)
    assert handler.handled == len(events)
    assert sorted(e.id for call in handler.calls for e in call) == sorted(e.id for e in events)
    assert await applied_count(env, events) == len(events)
    assert await processed_count(env, events) == len(events)


async def test_a_poison_event_goes_to_the_dlq_and_the_rest_of_its_batch_is_applied(
    env: dict[str, str],
) -> None:
    subject = str(uuid.uuid4())
    poison = lead_event(subject, 5, name="poison")
    healthy = [lead_event(subject, n) for n in range(10)]
    events = healthy[:5] + [poison] + healthy[5:]  # one key: one partition, one batch

    def fail(batch: list[CloudEvent[Any]]) -> None:
        if any(e.data.lead.name == "poison" for e in batch):
            raise RuntimeError("registry lookup exploded")

    await produce_all(env, as_messages(events))
    handler = Recorder(fail)
    async with in_process(batch_service(handler)):
        assert await eventually(lambda: applied_count(env, healthy)), "nothing was applied"
        dead = await eventually(lambda: dead_letters(env, poison.to_bytes()))
        assert await eventually(lambda: _true(len(handler.calls) >= 1 + len(healthy) + 3))
    assert dead, "the poison event never reached the DLQ"
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["x-leadflow-attempts"] == "3"
    assert headers["x-leadflow-error-type"] == "RuntimeError"
    assert "registry lookup exploded" in headers["x-leadflow-error"]
    original_topic = f"{env['LEADFLOW_KAFKA_TOPIC_PREFIX']}{LEADS_RECEIVED.name}"
    assert headers["x-leadflow-original-topic"] == original_topic
    assert len(handler.calls[0]) == len(events), "the poison did not come in one batch with the others"
    assert all(len(call) == 1 for call in handler.calls[1:]), "the batch's events were not isolated"
    assert await applied_count(env, healthy) == len(healthy)
    assert await applied_count(env, [poison]) == 0
    assert await processed_count(env, [poison]) == 0
    rows = await query(env, f"SELECT n FROM {SCHEMA}.applied WHERE subject = $1 ORDER BY seq", subject)
    assert [r["n"] for r in rows] == list(range(10))


async def test_a_malformed_message_in_a_batch_goes_to_the_dlq_at_once(env: dict[str, str]) -> None:
    events = lead_events(keys=3, per_key=5)
    garbage = f"not a cloudevent {uuid.uuid4()}".encode()
    messages = as_messages(events)
    messages.insert(7, (events[7].subject.encode(), garbage))
    await produce_all(env, messages)
    failures_before = failures()
    handler = Recorder()
    async with in_process(batch_service(handler)):
        assert await eventually(lambda: _true(handler.handled >= len(events)))
        dead = await eventually(lambda: dead_letters(env, garbage))
    assert dead, "the malformed message never reached the DLQ"
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["x-leadflow-error-type"] == "MalformedEvent"
    assert headers["x-leadflow-attempts"] == "0"
    assert failures() == failures_before  # refused before any handler ran: no batch failed
    assert handler.handled == len(events)
    assert await applied_count(env, events) == len(events)


async def test_a_transient_failure_retries_the_batch_until_it_is_applied_once(env: dict[str, str]) -> None:
    events = lead_events(keys=4, per_key=10)
    await produce_all(env, as_messages(events))
    outage = {"left": 2}

    def fail(batch: list[CloudEvent[Any]]) -> None:
        if outage["left"]:
            outage["left"] -= 1
            raise TransientError("scoring model store away")

    failures_before, dead_before = failures(), consumed("dead_lettered")
    handler = Recorder(fail)
    async with in_process(batch_service(handler)):
        assert await eventually(lambda: reaches(applied_count(env, events), len(events)))
    assert failures() - failures_before == 2
    assert consumed("dead_lettered") == dead_before
    # the same batch, whole, three times: never split up, never dead-lettered
    first = [e.id for e in handler.calls[0]]
    assert [e.id for e in handler.calls[1]] == first and [e.id for e in handler.calls[2]] == first
    assert len(first) > 1
    assert await applied_count(env, events) == len(events)
    assert await processed_count(env, events) == len(events)


# --- lanes: one poll in concurrent transactions -----------------------------------------------------


def test_split_lanes_keeps_each_key_in_one_group_in_delivery_order() -> None:
    events = lead_events(keys=40, per_key=3)
    groups = split_lanes(events, lambda e: e.subject, 3)
    assert len(groups) == 3 and sorted(e.id for g in groups for e in g) == sorted(e.id for e in events)
    for group in groups:
        assert [e.id for e in group] == [e.id for e in events if e in group]  # delivery order kept
    lane_of = {e.subject: i for i, group in enumerate(groups) for e in group}
    assert all(e in groups[lane_of[e.subject]] for e in events)  # a key never in two groups
    assert split_lanes(events[:1], lambda e: e.subject, 4) == [events[:1]]  # no empty groups
    assert split_lanes(events, lambda e: e.subject, 1) == [events]


async def test_lanes_apply_a_poll_in_concurrent_transactions_once_in_order_per_key(env: dict[str, str]) -> None:
    events = lead_events(keys=12, per_key=20)
    await produce_all(env, as_messages(events))
    handler = Overlap()
    async with in_process(batch_service(handler, max_records=500, lanes=by_subject(2))):
        assert await eventually(lambda: reaches(applied_count(env, events), len(events)), timeout_s=30)
    calls = handler.recorder.calls
    assert handler.most >= 2, "the lanes of a poll were applied one after the other"
    assert sorted(e.id for call in calls for e in call) == sorted(e.id for e in events)
    assert await processed_count(env, events) == len(events)
    assert await ranks_per_subject(env, events) == {e.subject: list(range(20)) for e in events}
    assert await eventually(lambda: reaches(committed(env), len(events)))


async def test_lanes_that_lose_an_event_leave_the_poll_whole(env: dict[str, str]) -> None:
    events = lead_events(keys=5, per_key=4)
    await produce_all(env, as_messages(events))

    async def careless(batch: list[CloudEvent[Any]]) -> list[list[CloudEvent[Any]]]:
        return [batch[1:]] if len(batch) > 1 else [batch]  # drops the first event

    handler = Recorder()
    async with in_process(batch_service(handler, lanes=careless)):
        assert await eventually(lambda: reaches(applied_count(env, events), len(events)))
    assert sorted(e.id for call in handler.calls for e in call) == sorted(e.id for e in events)


async def test_a_poison_event_in_one_lane_goes_to_the_dlq_and_the_other_lane_is_applied(
    env: dict[str, str],
) -> None:
    events = lead_events(keys=8, per_key=5)
    poison = lead_event(events[0].subject, 99, name="poison")
    await produce_all(env, as_messages([poison, *events]))

    def fail(batch: list[CloudEvent[Any]]) -> None:
        if any(e.data.lead.name == "poison" for e in batch):
            raise RuntimeError("registry lookup exploded")

    handler = Recorder(fail)
    async with in_process(batch_service(handler, lanes=by_subject(2))):
        assert await eventually(lambda: reaches(applied_count(env, events), len(events)), timeout_s=30)
        assert await eventually(lambda: dead_letters(env, poison.to_bytes())), "the poison never reached the DLQ"
    assert await applied_count(env, [poison]) == 0
    assert await processed_count(env, events) == len(events)
