"""The outbox relay: publishes what a service committed to its outbox, in order, then marks it sent.

- Kafka can be away: requests keep committing to the outbox; the relay delivers once Kafka is back.
  Sends still in flight when a round times out are awaited again, never re-sent, so an outage adds
  no duplicates.
- One relay per schema works at a time (a session-level Postgres advisory lock held by the relay's
  own connection), so several replicas of a service still publish one lead's events in order.
- Order is the outbox id order, which is commit order for writers of the same lead as long as the
  service serializes them (intake locks a lead's contacts; consumers handle one partition at a time).
- A row Kafka can never take (too large, invalid topic) is parked with its error (`failed_at`,
  `error`) and the rest go on; clear `failed_at` to retry it. Anything else is retried, with backoff.
- A crash between publish and mark re-sends; consumers dedupe on the event id.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import InvalidTopicError, MessageSizeTooLargeError, RecordTooLargeError
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_shared.db import Database
from leadflow_shared.logging import get_logger
from leadflow_shared.metrics import OUTBOX_FAILURES, OUTBOX_PARKED, OUTBOX_PENDING, OUTBOX_PUBLISHED

# send(topic, key, value, headers) queues one record and returns its delivery future
Send = Callable[[str, bytes, bytes, dict[str, str]], Awaitable["asyncio.Future[Any]"]]

log = get_logger(__name__)

SENT_RETENTION = "7 days"
PURGE_EVERY_ROUNDS = 1000
PERMANENT_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError, InvalidTopicError, TypeError, ValueError)


@dataclass(frozen=True)
class _Row:
    id: int
    topic: str
    key: str


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        send: Send,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        linger_s: float = 0.01,
        delivery_timeout_s: float = 30.0,
    ) -> None:
        self._db = db
        self._linger_s = linger_s
        self._send = send
        self._service = service
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._delivery_timeout_s = delivery_timeout_s
        self._table = db.metadata.tables[f"{db.metadata.schema}.outbox"]
        self._qualified = f"{db.metadata.schema}.outbox"
        self._lock_key = zlib.crc32(f"leadflow-outbox-{db.metadata.schema}".encode())
        self._leader: AsyncConnection | None = None
        self._inflight: list[tuple[_Row, asyncio.Future[Any]]] = []
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Relay until `stop()`; a failed round backs off (up to 5 s) and never ends the loop."""
        backoff = 0.0
        rounds = 0
        while not self._stopping.is_set():
            self._db.outbox_written.clear()  # before reading, so a commit during the round is not missed
            try:
                sent = await self.relay_once()
                rounds += 1
                if rounds % PURGE_EVERY_ROUNDS == 0:
                    await self._purge_sent()
                backoff = 0.0
            except Exception as exc:  # Kafka or Postgres away: keep the rows, try again
                OUTBOX_FAILURES.labels(self._service).inc()
                backoff = min(5.0, max(0.2, backoff * 2))
                log.warning("outbox relay round failed", error=repr(exc), retry_in_s=backoff)
                await self._drop_leadership_if_broken()
                await self._sleep(backoff)
                continue
            if self._leader is None:
                # Another process relays this schema. Our commits must not wake us (each wake would cost a
                # connection and a lock attempt): the leader polls, and we ask for the lock now and then.
                await self._sleep(self._poll_interval_s)
            elif sent < self._batch_size:
                await self._wait_for_work()
        await self._resign()

    async def stop(self) -> None:
        self._stopping.set()
        self._db.outbox_written.set()

    async def drain(self, timeout_s: float) -> None:
        """Publish what is pending, for at most `timeout_s` (the last thing a stopping service does)."""
        async def until_empty() -> None:
            while await self.relay_once():
                pass

        try:
            await asyncio.wait_for(until_empty(), timeout_s)
        except Exception as exc:
            log.warning("outbox not drained at shutdown; the next start publishes the rest", error=repr(exc))
        finally:
            await self._resign()

    async def relay_once(self) -> int:
        """Publish one batch in id order; returns how many were delivered and marked sent."""
        leader = await self._lead()
        if leader is None:
            return 0  # another replica is relaying this schema
        if not self._inflight:
            rows = await self._unsent(leader)
            if not rows:
                OUTBOX_PENDING.labels(self._service).set(0)
                return 0
            self._inflight = await self._queue(rows)
        results = await self._await_inflight()
        delivered = [row for (row, _), result in zip(self._inflight, results) if not isinstance(result, BaseException)]
        failed = next(((row, r) for (row, _), r in zip(self._inflight, results) if isinstance(r, BaseException)), None)
        self._inflight = []
        await self._mark_sent(leader, delivered)
        if failed is None:
            return len(delivered)
        row, error = failed
        if not isinstance(error, PERMANENT_ERRORS):
            raise error
        await self._park(leader, row, error)
        return len(delivered) + 1

    async def _queue(self, rows: list[Any]) -> list[tuple[_Row, asyncio.Future[Any]]]:
        """Queue sends in id order on one idempotent producer; stop at the first that cannot be queued."""
        queued: list[tuple[_Row, asyncio.Future[Any]]] = []
        for row in rows:
            ref = _Row(row["id"], row["topic"], row["key"])
            try:
                value = row["payload"].encode()  # the envelope as JSON text, exactly as stored
                future = await self._send(ref.topic, ref.key.encode(), value, row["headers"])
            except Exception as exc:
                future = asyncio.get_running_loop().create_future()
                future.set_exception(exc)
                queued.append((ref, future))
                break
            queued.append((ref, future))
        return queued

    async def _await_inflight(self) -> list[Any]:
        """Results of the queued sends; on timeout they stay queued and the next round awaits them."""
        futures = [future for _, future in self._inflight]
        return await asyncio.wait_for(
            asyncio.shield(asyncio.gather(*futures, return_exceptions=True)), self._delivery_timeout_s
        )

    # The leader's statements go to asyncpg directly, each its own transaction (autocommit): a relay round
    # is then three round trips, not eight, which matters when every request commits an event.

    async def _unsent(self, conn: AsyncConnection) -> list[Any]:
        raw = (await conn.get_raw_connection()).driver_connection
        return list(await raw.fetch(
            f"SELECT id, topic, key, payload::text AS payload, headers FROM {self._qualified} "
            "WHERE sent_at IS NULL AND failed_at IS NULL ORDER BY id LIMIT $1", self._batch_size))

    async def _mark_sent(self, conn: AsyncConnection, rows: list[_Row]) -> None:
        raw = (await conn.get_raw_connection()).driver_connection
        pending = await raw.fetchval(
            f"WITH sent AS (UPDATE {self._qualified} SET sent_at = now() WHERE id = ANY($1::bigint[]) RETURNING 1) "
            f"SELECT (SELECT count(*) FROM {self._qualified} WHERE sent_at IS NULL AND failed_at IS NULL) "
            "- (SELECT count(*) FROM sent)", [r.id for r in rows])
        for row in rows:
            OUTBOX_PUBLISHED.labels(self._service, row.topic).inc()
        OUTBOX_PENDING.labels(self._service).set(max(0, pending or 0))

    async def _park(self, conn: AsyncConnection, row: _Row, error: BaseException) -> None:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute(f"UPDATE {self._qualified} SET failed_at = now(), error = $2 WHERE id = $1",
                          row.id, repr(error)[:4000])
        OUTBOX_PARKED.labels(self._service, row.topic).inc()
        log.error("outbox event parked: Kafka will never take it", outbox_id=row.id, topic=row.topic,
                  error=repr(error))

    async def pending(self) -> int:
        t = self._table
        async with self._db.engine.connect() as conn:
            return int(await conn.scalar(
                select(func.count()).select_from(t).where(t.c.sent_at.is_(None), t.c.failed_at.is_(None))
            ) or 0)

    async def _lead(self) -> AsyncConnection | None:
        if self._leader is not None:
            return self._leader
        conn = await self._db.engine.connect()
        try:
            acquired = await conn.scalar(select(func.pg_try_advisory_lock(self._lock_key)))
            # "Sent" marks need not wait for the disk: one lost in a crash means the event is sent again,
            # and consumers dedupe by event id. (The events themselves were committed durably.)
            await conn.execute(text("SET synchronous_commit = off"))
            await conn.commit()
        except Exception:
            await conn.close()
            raise
        if not acquired:
            await conn.close()
            return None
        self._leader = conn
        return conn

    async def _drop_leadership_if_broken(self) -> None:
        """After a failed round, start over on a fresh connection (the lock goes with the old one)."""
        if self._leader is not None:
            try:
                await self._leader.rollback()
                await self._leader.execute(select(1))
                await self._leader.commit()
            except Exception:
                await self._resign()

    async def _resign(self) -> None:
        if self._leader is None:
            return
        leader, self._leader = self._leader, None
        try:
            await leader.execute(select(func.pg_advisory_unlock(self._lock_key)))
            await leader.commit()
        except Exception:
            pass  # a dead connection took the lock with it
        finally:
            await leader.close()

    async def _purge_sent(self) -> None:
        t = self._table
        async with self._db.engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.sent_at < func.now() - text(f"interval '{SENT_RETENTION}'")))

    async def _wait_for_work(self) -> None:
        try:
            await asyncio.wait_for(self._db.outbox_written.wait(), self._poll_interval_s)
        except TimeoutError:
            return
        if self._linger_s:  # let the commits of concurrent requests join this round
            await asyncio.sleep(self._linger_s)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass
