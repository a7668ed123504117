"""pool's own view of every lead, from intake's and scoring's events, and the leads assignment sends to a pool:
what a rep browsing the pool sees (masked), through real Kafka and Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from leadflow_localstack.testing import eventually, in_process
from leadflow_pool import views, views_work
from leadflow_pool.app import service
from leadflow_pool.db import metadata
from leadflow_shared.contracts import (
    LEADS_DUPLICATE_DETECTED,
    LEADS_POOLED,
    LEADS_RECEIVED,
    LEADS_SCORED,
    DuplicateDetected,
    LeadPooled,
    LeadReceived,
    LeadScored,
    LeadSnapshot,
    Topic,
)
from leadflow_shared.db import Database
from leadflow_shared.events import CloudEvent
from leadflow_shared.kafka import ensure_topics, physical_topic


async def publish(env: dict[str, str], events: list[tuple[Topic, BaseModel]]) -> None:
    await ensure_topics(env["LEADFLOW_KAFKA_BOOTSTRAP"], prefix=env["LEADFLOW_KAFKA_TOPIC_PREFIX"],
                        partitions=int(env["LEADFLOW_KAFKA_TOPIC_PARTITIONS"]))
    producer = AIOKafkaProducer(bootstrap_servers=env["LEADFLOW_KAFKA_BOOTSTRAP"], acks="all")
    await producer.start()
    try:
        for topic, data in events:
            lead_id = str(getattr(data, "lead_id"))
            event = CloudEvent[Any](source="/tests", type=topic.event_type, subject=lead_id, data=data,
                                    dataschema=topic.schema_urn)
            await producer.send_and_wait(physical_topic(topic.name, env["LEADFLOW_KAFKA_TOPIC_PREFIX"]),
                                         event.model_dump_json().encode(), key=lead_id.encode())
    finally:
        await producer.stop()


async def test_a_pooled_lead_is_listed_with_what_intake_and_scoring_said_of_it(settings_env: dict[str, str]) -> None:
    lead_id, pool = uuid.uuid4(), f"rm-{uuid.uuid4().hex[:6]}"
    snapshot = LeadSnapshot(name="李雷", mobile="+8613812345678", email="li.lei@example.cn", city="杭州市",
                            province="浙江省", industry="software", source="website",
                            consent={"marketing": False})
    await publish(settings_env, [
        (LEADS_RECEIVED, LeadReceived(lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created",
                                      partner_id="partner-1", lead=snapshot)),
        (LEADS_SCORED, LeadScored(lead_id=lead_id, score=72.5, grade="B", stage="nurture", rules_version="1")),
        (LEADS_POOLED, LeadPooled(lead_id=lead_id, pool_id=pool, rule="pool", reason="no rep", pooled_at=datetime.now(UTC))),
    ])
    db = Database(settings_env["LEADFLOW_PG_DSN"], metadata, "/tests/pool-read-model", pool_size=2)
    try:
        async with in_process(service):
            async def listed() -> list[dict[str, Any]]:
                rows, _ = await views.pool_leads_page(db, pool, views.PoolLeadFilter(), "-score", 10, None)
                # three topics, three consumers: listed once all three have been applied, in any order
                return [r for r in rows if r["grade"] == "B" and r["name"]]

            rows = await eventually(listed, timeout_s=30)
        row = await views.pool_lead(db, lead_id)
    finally:
        await db.dispose()
    assert rows and rows[0]["mobile"] == "138****5678" and rows[0]["name"] == "李*", rows
    assert rows[0]["city"] == "杭州市" and rows[0]["score"] == 72.5
    assert row is not None and row["partner_id"] == "partner-1" and row["do_not_contact"] is True
    assert row["status"] == "in_pool" and row["pooled_at"] is not None


async def test_a_duplicate_warning_lands_on_the_leads_timeline(settings_env: dict[str, str]) -> None:
    """撞单提醒: another partner submitted the lead again; its page shows who, matched on what, whose it was."""
    lead_id, submission = uuid.uuid4(), uuid.uuid4()
    warning = DuplicateDetected(lead_id=lead_id, submission_id=submission, matched_on="mobile",
                                current_owner_id="rep-wang", partner_id="partner-2")
    await publish(settings_env, [(LEADS_DUPLICATE_DETECTED, warning), (LEADS_DUPLICATE_DETECTED, warning)])
    db = Database(settings_env["LEADFLOW_PG_DSN"], metadata, "/tests/pool-duplicates", pool_size=2)
    try:
        async with in_process(service):
            async def warned() -> list[dict[str, Any]]:
                entries, _ = await views_work.timeline_page(db, lead_id, None, 10)
                return [e for e in entries if e["kind"] == "duplicate"]

            entries = await eventually(warned, timeout_s=30)
    finally:
        await db.dispose()
    assert len(entries) == 2  # two submissions, two warnings (each its own event)
    assert entries[0]["owner_id"] == "rep-wang"
    assert entries[0]["detail"] == {"matched_on": "mobile", "partner_id": "partner-2", "submission_id": str(submission)}
