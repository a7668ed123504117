"""Sent events are kept a week, then purged oldest first; the walk stops at the first event to keep.
Consumed events' ids are kept 30 days (LEADFLOW_PROCESSED_RETENTION_DAYS), then forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from leadflow_intake.app import service as intake
from leadflow_localstack.testing import in_process
from leadflow_shared.outbox import OutboxRelay

ROWS = [  # id, sent (days ago, None: not sent), parked
    (-100, 8, False),
    (-99, None, True),  # parked: kept for its operator, and passed
    (-98, 9, False),
    (-97, 0.04, False),  # sent an hour ago: the walk stops here
    (-96, 10, False),  # old, but behind a row to keep: next time
]
CLEAN_UP = ("DELETE FROM intake.outbox WHERE id < 0", "DELETE FROM intake.processed_events WHERE topic = 'purge-test'")


@pytest.fixture
async def intake_relay(settings_env: dict[str, str]) -> AsyncIterator[tuple[OutboxRelay, asyncpg.Connection]]:
    """intake's relay, running, and a connection to its schema, cleared of this module's rows."""
    dsn = settings_env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql")
    async with in_process(intake) as runtime:
        conn = await asyncpg.connect(dsn)
        try:
            for statement in CLEAN_UP:
                await conn.execute(statement)
            yield runtime.relay, conn
        finally:
            for statement in CLEAN_UP:
                await conn.execute(statement)
            await conn.close()


async def test_old_sent_events_are_purged_up_to_the_first_to_keep(
        intake_relay: tuple[OutboxRelay, asyncpg.Connection]) -> None:
    relay, conn = intake_relay
    for row_id, days, parked in ROWS:
        await conn.execute(
            "INSERT INTO intake.outbox (id, event_id, topic, key, payload, headers, sent_at, failed_at) "
            "VALUES ($1, gen_random_uuid(), 'leads.received.v1', 'k', '{}', '{}', "
            "now() - make_interval(secs => $2::float8 * 86400), CASE WHEN $3 THEN now() END)",
            row_id, days, parked)
    assert await relay.purge_sent() == 2
    left = [r["id"] for r in await conn.fetch("SELECT id FROM intake.outbox WHERE id < 0 ORDER BY id")]
    assert left == [-99, -97, -96]


async def test_ids_of_events_consumed_long_ago_are_forgotten_a_chunk_at_a_time(
        intake_relay: tuple[OutboxRelay, asyncpg.Connection]) -> None:
    relay, conn = intake_relay
    await conn.execute(
        "INSERT INTO intake.processed_events (event_id, topic, processed_at) "
        "SELECT gen_random_uuid(), 'purge-test', now() - make_interval(days => d) "
        "FROM unnest(ARRAY[45, 40, 31, 31, 35, 29, 1, 0]) AS d")
    assert await relay.purge_processed(chunk=2) == 5  # older than 30 days, two a statement
    left = await conn.fetch("SELECT extract(day FROM now() - processed_at)::int AS days "
                            "FROM intake.processed_events WHERE topic = 'purge-test' ORDER BY 1")
    assert [r["days"] for r in left] == [0, 1, 29]
    assert await relay.purge_processed() == 0
