"""notify as it runs, end to end: its app started in this process (HTTP, Kafka consumers, the dispatcher), a
person's channel set over HTTP, a `leads.assigned.v1` CloudEvent published to Kafka as assignment would, and the
robot receiving the message; the record then shows it sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from litestar.testing import AsyncTestClient

from leadflow_localstack.testing import eventually
from leadflow_notify.settings import NotifySettings
from leadflow_shared.contracts import LEADS_ASSIGNED, LeadAssigned
from leadflow_shared.kafka import physical_topic

from .conftest import CONSOLE, Robots, Token, event, staff, unique


async def test_an_assignment_published_to_kafka_reaches_the_reps_robot(
        api: AsyncTestClient[Any], notify_settings: NotifySettings, robots: Robots, staff_token: Token) -> None:
    wang, key = unique("rep-wang"), str(uuid.uuid4())
    me = staff(staff_token, wang)
    assert (await api.put(f"/v1/recipients/{wang}", json={"channels": [{"channel": "wecom", "key": key}]},
                          headers=me)).status_code == 201
    runtime = api.app.state["runtime"]  # (running in the test client's own thread and loop: polled)

    async def connected() -> bool:
        return runtime.kafka_connected.is_set()  # the service made its topics and joined its groups

    assert await eventually(connected, timeout_s=60)

    lead = uuid.uuid4()
    assignment = event(LEADS_ASSIGNED, LeadAssigned(lead_id=lead, owner_id=wang, rule="round_robin", team_id="east",
                                                    assigned_at=datetime.now(UTC), kind="route"))
    producer = AIOKafkaProducer(bootstrap_servers=notify_settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(physical_topic(LEADS_ASSIGNED.name, notify_settings.kafka_topic_prefix),
                                     assignment.to_bytes(), key=assignment.subject.encode(),
                                     headers=[(k, v.encode()) for k, v in assignment.kafka_headers().items()])
    finally:
        await producer.stop()

    (got,) = await robots.wait_for(key, timeout_s=30)
    assert got.body == {"msgtype": "text", "text": {
        "content": f"新线索分配\r\n一条线索已分配给您（自动分配），请尽快跟进。\n查看线索：{CONSOLE}/leads/{lead}"}}

    async def recorded_sent() -> list[dict[str, Any]]:
        page = (await api.get("/v1/notifications", params={"lead_id": str(lead)}, headers=me)).json()
        return [n for n in page["notifications"] if n["status"] == "sent"]

    (record,) = await eventually(recorded_sent, timeout_s=10)
    assert (record["event_id"], record["topic"], record["channel"], record["attempts"]) == (
        str(assignment.id), "leads.assigned.v1", "wecom", 1)
