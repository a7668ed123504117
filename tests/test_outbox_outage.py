"""The outbox survives a Kafka outage: requests succeed while Kafka is down, the event arrives once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from leadflow_intake.app import service as intake
from leadflow_localstack import procs
from leadflow_localstack.components import Kafka
from leadflow_localstack.testing import ServiceProcesses, eventually, read_topic
from leadflow_shared.kafka import ensure_topics

LEAD = {"name": "李雷", "email": "li.lei@example.cn"}


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[Kafka]:
    """A broker of this test's own, so stopping it disturbs nobody else."""
    port = procs.free_port(29092)
    node = Kafka(tmp_path / "kafka", port=port, controller_port=procs.free_port(port + 1, [port]),
                 name="kafka-outage-test", heap="256m")
    node.prepare()
    node.pid = node.start()  # type: ignore[attr-defined]
    _wait(node)
    yield node
    procs.stop(node.pid)  # type: ignore[attr-defined]


def _wait(node: Kafka, timeout_s: float = 90) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not node.healthy():
        assert time.monotonic() < deadline, procs.tail(node.log_file)
        time.sleep(0.5)


async def _pending(dsn: str) -> int:
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg", "postgresql"))
    try:
        # Parked rows (another test's) are not pending: the relay never sends them again by itself.
        return int(await conn.fetchval(
            "SELECT count(*) FROM intake.outbox WHERE sent_at IS NULL AND failed_at IS NULL"))
    finally:
        await conn.close()


async def test_events_written_while_kafka_is_down_arrive_exactly_once(
    private_kafka: Kafka, service_processes: ServiceProcesses, partner: tuple[str, str]
) -> None:
    await ensure_topics(private_kafka.bootstrap, partitions=1)
    service_processes.env.update(LEADFLOW_KAFKA_BOOTSTRAP=private_kafka.bootstrap, LEADFLOW_KAFKA_TOPIC_PREFIX="")
    dsn = service_processes.env["LEADFLOW_PG_DSN"]
    url = service_processes.start(intake).url
    service_processes.wait_ready()
    async with httpx.AsyncClient(base_url=url, timeout=10, headers={"Authorization": f"Bearer {partner[1]}"}) as client:
        first = await client.post("/v1/leads", json=LEAD)
        assert first.status_code == 202
        assert await eventually(lambda: _subjects(private_kafka, first.json()["lead_id"]), timeout_s=30)

        procs.stop(private_kafka.pid)  # type: ignore[attr-defined]
        during = await client.post("/v1/leads", json={**LEAD, "email": "han.meimei@example.cn"})
        assert during.status_code == 202, "a request must succeed while Kafka is down"
        lead_id = during.json()["lead_id"]
        assert (await client.get(f"/v1/leads/{lead_id}")).status_code == 200
        # The first event's sent mark may still be on its way (marks ride on the relay's next statement).
        assert await eventually(lambda: _equals(_pending(dsn), 1), timeout_s=5), "only the new event is unsent"

        private_kafka.pid = private_kafka.start()  # type: ignore[attr-defined]
        await asyncio.to_thread(_wait, private_kafka)
        assert await eventually(lambda: _equals(_pending(dsn), 0), timeout_s=90), "the outbox never drained"

    delivered = await _subjects(private_kafka, lead_id)
    assert len(delivered) == 1, f"expected exactly one event for the lead, got {len(delivered)}"
    event = json.loads(delivered[0].value)
    assert event["type"] == "io.leadflow.leads.received.v1"
    assert event["data"]["lead"]["email"] == "han.meimei@example.cn"


async def _equals(pending, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return await pending == expected


async def _subjects(node: Kafka, lead_id: str) -> list:  # type: ignore[type-arg]
    records = await read_topic(node.bootstrap, "leads.received.v1", until=10**6, timeout_s=3)
    return [r for r in records if r.key == lead_id.encode()]  # type: ignore[attr-defined]
