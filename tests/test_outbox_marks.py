"""The relay marks what it delivered as sent within its next round's statement, or on its own once idle:
every event leaves once, and the outbox ends with nothing unsent."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from leadflow_intake.app import service as intake
from leadflow_localstack.testing import eventually, in_process, read_topic
from leadflow_shared.contracts import LEADS_RECEIVED, LeadReceived, LeadSnapshot


async def test_busy_relay_marks_with_its_next_round_and_idle_relay_on_its_own(settings_env: dict[str, str]) -> None:
    bootstrap, prefix = settings_env["LEADFLOW_KAFKA_BOOTSTRAP"], settings_env["LEADFLOW_KAFKA_TOPIC_PREFIX"]
    lead_ids = [uuid.uuid4() for _ in range(30)]
    async with in_process(intake) as runtime:
        await eventually(lambda: _leads(runtime), timeout_s=20)
        flushes = _count_flushes(runtime.relay)
        for lead_id in lead_ids[:-1]:  # one commit each, with no pause between: the relay's rounds follow
            await _publish(runtime, lead_id)

        async def delivered(expected: list[uuid.UUID]) -> list[Any]:
            records = await read_topic(bootstrap, f"{prefix}{LEADS_RECEIVED.name}", until=10**6, timeout_s=2)
            mine = [r for r in records if uuid.UUID(r.key.decode()) in set(expected)]
            return mine if len(mine) >= len(expected) else []

        await eventually(lambda: delivered(lead_ids[:-1]), timeout_s=30)
        # A last event alone, once the burst is out: no round follows it, so the idle relay marks it itself.
        # (The burst's last marks may ride on a round a late commit woke.)
        await _publish(runtime, lead_ids[-1])
        records = await eventually(lambda: delivered(lead_ids), timeout_s=30)
        assert await eventually(lambda: _all_marked(settings_env["LEADFLOW_PG_DSN"], lead_ids), timeout_s=10)
        # Only the last rounds' marks wait for the relay to go idle; the others rode on a round's read.
        assert 1 <= flushes["wrote"] < len(lead_ids), flushes
        assert not runtime.relay._unmarked
    ids = [json.loads(r.value)["id"] for r in records]
    assert len(ids) == len(set(ids)) == len(lead_ids), "an event left twice or not at all"


async def _publish(runtime: Any, lead_id: uuid.UUID) -> None:
    async with runtime.db.uow() as uow:
        await uow.publish(LEADS_RECEIVED, lead_id, LeadReceived(
            lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created",
            lead=LeadSnapshot(email=f"{lead_id.hex[:8]}@example.cn")))
        await uow.commit()


async def _leads(runtime: Any) -> bool:
    return runtime.relay._leader is not None


def _count_flushes(relay: Any) -> dict[str, int]:
    counts = {"wrote": 0}
    flush = relay._flush_marks

    async def counted() -> None:
        counts["wrote"] += bool(relay._unmarked)
        await flush()

    relay._flush_marks = counted
    return counts


async def _all_marked(dsn: str, lead_ids: list[uuid.UUID]) -> bool:
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg", "postgresql"))
    try:
        unsent = await conn.fetchval("SELECT count(*) FROM intake.outbox WHERE key = ANY($1::text[]) AND sent_at IS NULL",
                                     [str(i) for i in lead_ids])
        return int(unsent) == 0
    finally:
        await conn.close()
