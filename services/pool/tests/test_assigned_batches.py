"""Assignment's decisions applied a batch per transaction: each lead's latest ownership gets its workflow, and
one superseded in the same batch does not keep deadlines (real Kafka, Postgres and Temporal)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from leadflow_localstack.testing import eventually, in_process
from leadflow_pool.app import service
from leadflow_pool.domain.model import ownership_workflow_id
from leadflow_pool.tables import pool_leads
from leadflow_shared.contracts import LEADS_ASSIGNED, LeadAssigned, Topic
from leadflow_shared.db import Database
from leadflow_shared.events import CloudEvent
from leadflow_shared.kafka import ensure_topics, physical_topic


async def publish_together(env: dict[str, str], events: list[tuple[Topic, BaseModel]]) -> None:
    """Sent before the consumer starts, so that a poll finds them together."""
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


async def status_of(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError:
        return None  # never started


async def test_each_leads_latest_ownership_of_a_batch_gets_its_workflow(settings_env: dict[str, str]) -> None:
    reassigned, held = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)

    def assigned(lead: uuid.UUID, rep: str, kind: str = "route") -> LeadAssigned:
        return LeadAssigned(lead_id=lead, owner_id=rep, rule="rr", assigned_at=now, team_id="t", kind=kind)

    await publish_together(settings_env, [
        (LEADS_ASSIGNED, assigned(reassigned, "rep-a")),
        (LEADS_ASSIGNED, assigned(held, "rep-b")),
        (LEADS_ASSIGNED, assigned(reassigned, "rep-d", "manual")),  # a manager's pick supersedes the route
    ])
    db = Database(settings_env["LEADFLOW_PG_DSN"], service.metadata, "/tests/pool-batches", pool_size=2)
    client = await Client.connect(settings_env["LEADFLOW_TEMPORAL_ADDRESS"])
    try:
        async with in_process(service):
            async def settled() -> dict[uuid.UUID, Any] | None:
                async with db.uow() as uow:
                    rows = (await uow.session.execute(select(pool_leads).where(
                        pool_leads.c.lead_id.in_([reassigned, held])))).mappings().all()
                found = {r["lead_id"]: r for r in rows}
                done = len(found) == 2 and found[reassigned]["owner_id"] == "rep-d"
                return found if done else None

            rows = await eventually(settled, timeout_s=60)
            latest = await status_of(client, ownership_workflow_id(str(reassigned), 2))
            superseded = await status_of(client, ownership_workflow_id(str(reassigned), 1))
            kept = await status_of(client, ownership_workflow_id(str(held), 1))
    finally:
        await db.dispose()
    assert rows[reassigned]["ownership_seq"] == 2 and rows[held]["owner_id"] == "rep-b"
    assert latest == WorkflowExecutionStatus.RUNNING and kept == WorkflowExecutionStatus.RUNNING
    # never started when both decisions came in one poll; ended when the second came in the next
    assert superseded != WorkflowExecutionStatus.RUNNING, "a superseded ownership still keeps deadlines"
