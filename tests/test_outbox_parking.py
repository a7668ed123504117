"""An event Kafka can never take is parked with its error; the events behind it still go out."""

from __future__ import annotations

import uuid

import asyncpg

from leadflow_intake.app import service as intake
from leadflow_localstack.testing import eventually, in_process, read_topic
from leadflow_shared.contracts import LEADS_RECEIVED, LeadReceived, LeadSnapshot


def _received(lead_id: uuid.UUID, **custom: object) -> LeadReceived:
    return LeadReceived(lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created",
                        lead=LeadSnapshot(email="big@example.cn", custom=custom))


async def test_a_too_large_event_is_parked_and_the_rest_flow(settings_env: dict[str, str]) -> None:
    bootstrap, prefix, dsn = (settings_env[k] for k in
                              ("LEADFLOW_KAFKA_BOOTSTRAP", "LEADFLOW_KAFKA_TOPIC_PREFIX", "LEADFLOW_PG_DSN"))
    huge, fine = uuid.uuid4(), uuid.uuid4()
    async with in_process(intake) as runtime:
        for lead_id, event in ((huge, _received(huge, blob="x" * 2_000_000)), (fine, _received(fine))):
            async with runtime.db.uow() as uow:
                await uow.publish(LEADS_RECEIVED, lead_id, event)
                await uow.commit()

        async def arrived() -> bool:
            records = await read_topic(bootstrap, f"{prefix}{LEADS_RECEIVED.name}", until=10**6, timeout_s=2)
            return any(r.key == str(fine).encode() for r in records)  # type: ignore[attr-defined]

        assert await eventually(arrived, timeout_s=30), "the event behind the parked one never went out"
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg", "postgresql"))
    try:
        parked = await conn.fetchrow("SELECT sent_at, failed_at, error FROM intake.outbox WHERE key = $1", str(huge))
    finally:
        await conn.close()
    assert parked["sent_at"] is None and parked["failed_at"] is not None
    assert "TooLarge" in parked["error"]
