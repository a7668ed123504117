"""Sent events are kept a week, then purged oldest first; the walk stops at the first event to keep."""

from __future__ import annotations

import asyncpg

from leadflow_intake.app import service as intake
from leadflow_localstack.testing import in_process

ROWS = [  # id, sent (days ago, None: not sent), parked
    (-100, 8, False),
    (-99, None, True),  # parked: kept for its operator, and passed
    (-98, 9, False),
    (-97, 0.04, False),  # sent an hour ago: the walk stops here
    (-96, 10, False),  # old, but behind a row to keep: next time
]


async def test_old_sent_events_are_purged_up_to_the_first_to_keep(settings_env: dict[str, str]) -> None:
    dsn = settings_env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql")
    async with in_process(intake) as runtime:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("DELETE FROM intake.outbox WHERE id < 0")
            for row_id, days, parked in ROWS:
                await conn.execute(
                    "INSERT INTO intake.outbox (id, event_id, topic, key, payload, headers, sent_at, failed_at) "
                    "VALUES ($1, gen_random_uuid(), 'leads.received.v1', 'k', '{}', '{}', "
                    "now() - make_interval(secs => $2::float8 * 86400), CASE WHEN $3 THEN now() END)",
                    row_id, days, parked)
            assert await runtime.relay.purge_sent() == 2
            left = [r["id"] for r in await conn.fetch("SELECT id FROM intake.outbox WHERE id < 0 ORDER BY id")]
            assert left == [-99, -97, -96]
        finally:
            await conn.execute("DELETE FROM intake.outbox WHERE id < 0")
            await conn.close()
