"""Activities that wait too long for their lead (a visitor who never becomes one) are deleted; applied
ones never are, even one applied while the expiry waits for its row."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from leadflow_scoring import db as scoring_db
from leadflow_scoring.jobs import expire_waiting
from leadflow_shared.db import Database
from leadflow_shared.service import Service

INSERT = ("INSERT INTO scoring.activities (activity_id, lead_id, contact_keys, type, occurred_at, received_at, "
          "applied_at) VALUES ($1, $2, $3, 'page_view', now(), now() - make_interval(days => $4), "
          "CASE WHEN $5 THEN now() - make_interval(days => $4) END)")


async def test_activities_waiting_past_their_retention_are_deleted_and_applied_ones_kept(
        leadflow_env: dict[str, str], migrated: dict[str, Service]) -> None:
    dsn = leadflow_env["LEADFLOW_PG_DSN"]
    rows = {  # activity: (days since received, applied)
        uuid.uuid4(): (200, False), uuid.uuid4(): (190, False), uuid.uuid4(): (181, False),
        uuid.uuid4(): (179, False), uuid.uuid4(): (1, False), uuid.uuid4(): (300, True),
    }
    busy = uuid.uuid4()  # waiting past its retention, but being applied by a consumer right now
    rows[busy] = (250, False)
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg", "postgresql"))
    consumer = await asyncpg.connect(dsn.replace("postgresql+asyncpg", "postgresql"))
    database = Database(dsn, scoring_db.metadata, "/tests")
    try:
        for activity_id, (days, applied) in rows.items():
            await conn.execute(INSERT, activity_id, None, [f"mobile:+86137{activity_id.int % 10**8:08d}"], days, applied)
        transaction = consumer.transaction()
        await transaction.start()
        await consumer.execute("SELECT 1 FROM scoring.activities WHERE activity_id = $1 FOR UPDATE", busy)
        expiry = asyncio.create_task(expire_waiting(database, datetime.now(UTC) - timedelta(days=180), batch=2))
        await asyncio.sleep(0.5)
        assert not expiry.done(), "the expiry did not wait for the consumer's row"
        await consumer.execute("UPDATE scoring.activities SET applied_at = now(), lead_id = $2 WHERE activity_id = $1",
                               busy, uuid.uuid4())
        await transaction.commit()
        assert await asyncio.wait_for(expiry, 10) == 3
        left = {r["activity_id"] for r in await conn.fetch(
            "SELECT activity_id FROM scoring.activities WHERE activity_id = ANY($1::uuid[])", list(rows))}
        assert left == {a for a, (days, applied) in rows.items() if days < 180 or applied} | {busy}
    finally:
        await conn.execute("DELETE FROM scoring.activities WHERE activity_id = ANY($1::uuid[])", list(rows))
        await database.dispose()
        await consumer.close()
        await conn.close()
