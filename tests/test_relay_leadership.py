"""Several processes of one service share a schema: one relays, the others leave it alone; and a pooled
connection the server has closed is never handed to a request."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import asyncpg

from leadflow_intake.app import service as intake
from leadflow_localstack.testing import eventually, in_process, read_topic
from leadflow_shared.contracts import LEADS_RECEIVED, LeadReceived, LeadSnapshot


async def test_a_second_process_leaves_relaying_to_the_leader(settings_env: dict[str, str]) -> None:
    bootstrap, prefix = settings_env["LEADFLOW_KAFKA_BOOTSTRAP"], settings_env["LEADFLOW_KAFKA_TOPIC_PREFIX"]
    lead_ids = [uuid.uuid4() for _ in range(30)]
    async with in_process(intake) as first, in_process(intake) as second:
        await eventually(lambda: _one_leads(first, second), timeout_s=20)
        follower = second if first.relay._leader is not None else first
        tries = _count_lock_attempts(follower)
        started = time.monotonic()
        for lead_id in lead_ids:  # committed by the follower: its own relay is not woken by them
            async with follower.db.uow() as uow:
                await uow.publish(LEADS_RECEIVED, lead_id, LeadReceived(
                    lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created",
                    lead=LeadSnapshot(email=f"{lead_id.hex[:8]}@example.cn")))
                await uow.commit()
        # It asks for the lock once per poll interval, not once per commit (a connection and a statement
        # each time, on every request of every process but one).
        polls = (time.monotonic() - started) / follower.settings.outbox_poll_interval_s
        assert tries["n"] <= polls + 2, (tries, polls)

        async def delivered() -> list[object]:
            records = await read_topic(bootstrap, f"{prefix}{LEADS_RECEIVED.name}", until=10**6, timeout_s=2)
            mine = [r for r in records if uuid.UUID(r.key.decode()) in set(lead_ids)]  # type: ignore[attr-defined]
            return mine if len(mine) >= len(lead_ids) else []

        records = await eventually(delivered, timeout_s=30)
        assert follower.relay._leader is None
    ids = [json.loads(r.value)["id"] for r in records]  # type: ignore[attr-defined]
    assert len(ids) == len(set(ids)) == len(lead_ids)


async def _one_leads(*runtimes: object) -> bool:
    leaders = [r for r in runtimes if r.relay._leader is not None]  # type: ignore[attr-defined]
    return len(leaders) == 1


def _count_lock_attempts(runtime: object) -> dict[str, int]:
    relay = runtime.relay  # type: ignore[attr-defined]
    tries = {"n": 0}
    lead = relay._lead

    async def counted() -> object:
        tries["n"] += 1
        return await lead()

    relay._lead = counted
    return tries


async def test_connections_closed_by_the_server_are_not_handed_out(settings_env: dict[str, str]) -> None:
    async with in_process(intake) as runtime:
        async def backend_pids() -> set[int]:
            pids = set()
            uows = [runtime.db.uow() for _ in range(3)]  # three at once: the pool keeps three
            for uow in uows:
                await uow.__aenter__()
            try:
                for uow in uows:
                    raw = (await (await uow.session.connection()).get_raw_connection()).driver_connection
                    pids.add(await raw.fetchval("SELECT pg_backend_pid()"))
            finally:
                for uow in uows:
                    await uow.__aexit__(None, None, None)
            return pids

        pids = await backend_pids()
        admin = await asyncpg.connect(settings_env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
        try:
            await admin.execute("SELECT pg_terminate_backend(p) FROM unnest($1::int[]) AS p", list(pids))
        finally:
            await admin.close()
        await asyncio.sleep(0.5)  # the loop reads each socket's end: asyncpg marks the connections closed
        for _ in range(3):
            async with runtime.db.uow() as uow:
                raw = (await (await uow.session.connection()).get_raw_connection()).driver_connection
                assert await raw.fetchval("SELECT pg_backend_pid()") not in pids
