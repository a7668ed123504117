"""The outbox relay: publishes what services committed to their outbox, in order, then marks it sent.

Kafka can be away: requests keep committing to the outbox, and the relay delivers once Kafka is back.
One relay per schema works at a time (a Postgres advisory lock), which keeps per-key order even when a
service runs several replicas. A crash between publish and mark re-sends; consumers dedupe on event id.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, func, select, text, update

from leadflow_shared.db import Database
from leadflow_shared.logging import get_logger
from leadflow_shared.metrics import OUTBOX_FAILURES, OUTBOX_PENDING, OUTBOX_PUBLISHED

# publish(topic, key, value, headers) -> awaitable delivery confirmation
Send = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[Awaitable[Any]]]

log = get_logger(__name__)

SENT_RETENTION = "7 days"


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        send: Send,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._db = db
        self._send = send
        self._service = service
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._table = db.metadata.tables[f"{db.metadata.schema}.outbox"]
        self._lock_key = zlib.crc32(f"leadflow-outbox-{db.metadata.schema}".encode())
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Relay until `stop()`; failures back off up to 5 s and never end the loop."""
        backoff = 0.0
        rounds = 0
        while not self._stopping.is_set():
            self._db.outbox_written.clear()  # before reading, so a commit during the round is not missed
            try:
                sent = await self.relay_once()
                backoff = 0.0
            except Exception as exc:  # Kafka or Postgres away: keep the rows, try again
                OUTBOX_FAILURES.labels(self._service).inc()
                backoff = min(5.0, max(0.2, backoff * 2))
                log.warning("outbox relay round failed", error=repr(exc), retry_in_s=backoff)
                await self._sleep(backoff)
                continue
            rounds += 1
            if rounds % 1000 == 0:
                await self._purge_sent()
            if sent < self._batch_size:
                await self._wait_for_work()

    async def stop(self) -> None:
        self._stopping.set()
        self._db.outbox_written.set()

    async def relay_once(self) -> int:
        """Publish one batch of unsent events in commit order; returns how many went out."""
        t = self._table
        async with self._db.engine.begin() as conn:
            if not await conn.scalar(select(func.pg_try_advisory_xact_lock(self._lock_key))):
                return 0  # another replica is relaying this schema
            rows = (
                await conn.execute(
                    select(t.c.id, t.c.topic, t.c.key, t.c.payload, t.c.headers)
                    .where(t.c.sent_at.is_(None))
                    .order_by(t.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            if not rows:
                OUTBOX_PENDING.labels(self._service).set(0)
                return 0
            # Sends are queued in id order on one idempotent producer, so per-key order holds.
            confirmations = [
                await self._send(
                    row.topic, row.key.encode(), json.dumps(row.payload, ensure_ascii=False).encode(), row.headers
                )
                for row in rows
            ]
            await asyncio.gather(*confirmations)
            await conn.execute(update(t).where(t.c.id.in_([r.id for r in rows])).values(sent_at=func.now()))
            pending = await conn.scalar(select(func.count()).select_from(t).where(t.c.sent_at.is_(None)))
        for row in rows:
            OUTBOX_PUBLISHED.labels(self._service, row.topic).inc()
        OUTBOX_PENDING.labels(self._service).set(pending or 0)
        return len(rows)

    async def pending(self) -> int:
        t = self._table
        async with self._db.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(t).where(t.c.sent_at.is_(None))) or 0)

    async def _purge_sent(self) -> None:
        t = self._table
        async with self._db.engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.sent_at < func.now() - text(f"interval '{SENT_RETENTION}'")))

    async def _wait_for_work(self) -> None:
        try:
            await asyncio.wait_for(self._db.outbox_written.wait(), self._poll_interval_s)
        except TimeoutError:
            pass

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass
