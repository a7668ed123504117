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
- A round is one statement: it marks the previous round's deliveries sent and reads the next rows. Marks
  wait for the next round, or `mark_delay_s` when no round comes, so a busy relay costs Postgres one
  round trip per round, not three.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import InvalidTopicError, MessageSizeTooLargeError, RecordTooLargeError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_shared.db import Database
from leadflow_shared.logging import get_logger
from leadflow_shared.metrics import OUTBOX_FAILURES, OUTBOX_PARKED, OUTBOX_PENDING, OUTBOX_PUBLISHED

# send(topic, key, value, headers) queues one record and returns its delivery future
Send = Callable[[str, bytes, bytes, dict[str, str]], Awaitable["asyncio.Future[Any]"]]

log = get_logger(__name__)

SENT_RETENTION = "7 days"
PURGE_EVERY_S = 600.0
PURGE_CHUNK = 5000  # rows deleted per statement: a week of backlog never becomes one long transaction
COUNT_BACKLOG_EVERY_S = 5.0  # an exact count of a large backlog reads all of it: now and then only
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
        batch_size: int = 2000,
        poll_interval_s: float = 0.5,
        linger_s: float = 0.01,
        delivery_timeout_s: float = 30.0,
        mark_delay_s: float = 0.05,
        processed_retention_days: float = 30.0,
    ) -> None:
        self._db = db
        self._processed_retention_days = processed_retention_days
        self._linger_s = linger_s
        self._send = send
        self._service = service
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._delivery_timeout_s = delivery_timeout_s
        self._mark_delay_s = mark_delay_s
        self._unmarked: list[_Row] = []  # delivered, not yet marked sent in Postgres
        self._backlog_counted_at = 0.0
        self._table = db.metadata.tables[f"{db.metadata.schema}.outbox"]
        self._qualified = f"{db.metadata.schema}.outbox"
        # Joined to the ids, not `id = ANY($1)`: the outbox keeps growing, and a prepared plan made while
        # it was small would scan it, comparing every row with every id (331 ms for 500 of 41,600 rows).
        self._mark_sql = (f"UPDATE {self._qualified} AS o SET sent_at = now() FROM unnest($1::bigint[]) AS s(id) "
                          "WHERE o.id = s.id")
        self._lock_key = zlib.crc32(f"leadflow-outbox-{db.metadata.schema}".encode())
        self._leader: AsyncConnection | None = None
        self._inflight: list[tuple[_Row, asyncio.Future[Any]]] = []
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Relay until `stop()`; a failed round backs off (up to 5 s) and never ends the loop."""
        backoff = 0.0
        purged_at = time.monotonic()
        while not self._stopping.is_set():
            self._db.outbox_written.clear()  # before reading, so a commit during the round is not missed
            try:
                sent = await self.relay_once()
                if self._leader is not None and time.monotonic() - purged_at > PURGE_EVERY_S:
                    purged_at = time.monotonic()
                    await self.purge_sent()
                    await self.purge_processed()
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
        try:
            await self._flush_marks()
        except Exception as exc:  # they are sent again by the next relay; consumers dedupe
            log.warning("outbox sent marks not written at stop", error=repr(exc))
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
            await self._flush_marks()
        except Exception as exc:
            log.warning("outbox not drained at shutdown; the next start publishes the rest", error=repr(exc))
        finally:
            await self._resign()

    async def relay_once(self) -> int:
        """Publish one batch in id order; returns how many were delivered (marked sent with the next
        round's statement, or by `_flush_marks`)."""
        leader = await self._lead()
        if leader is None:
            return 0  # another replica is relaying this schema
        if not self._inflight:
            rows = await self._next_rows(leader)
            if not rows:
                return 0
            self._inflight = await self._queue(rows)
        results = await self._await_inflight()
        delivered = [row for (row, _), result in zip(self._inflight, results) if not isinstance(result, BaseException)]
        failed = next(((row, r) for (row, _), r in zip(self._inflight, results) if isinstance(r, BaseException)), None)
        self._inflight = []
        self._delivered(delivered)
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

    # The leader's statements go to asyncpg directly, each its own transaction (autocommit).

    async def _next_rows(self, conn: AsyncConnection) -> list[Any]:
        """Mark the rows delivered since the last statement sent, and read the next unsent ones. The
        UPDATE's effect is invisible to the same statement's SELECT: the marked ids are left out by hand."""
        marked = [r.id for r in self._unmarked]
        raw = (await conn.get_raw_connection()).driver_connection
        rows = list(await raw.fetch(
            f"WITH sent AS ({self._mark_sql}) "
            f"SELECT id, topic, key, payload, headers FROM {self._qualified} "
            "WHERE sent_at IS NULL AND failed_at IS NULL AND id <> ALL($1::bigint[]) ORDER BY id LIMIT $2",
            marked, self._batch_size))
        self._unmarked = []
        await self._gauge_pending(raw, len(rows))
        return rows

    async def _flush_marks(self) -> None:
        if not self._unmarked or self._leader is None:
            return
        raw = (await self._leader.get_raw_connection()).driver_connection
        await raw.execute(self._mark_sql, [r.id for r in self._unmarked])
        self._unmarked = []

    def _delivered(self, rows: list[_Row]) -> None:
        self._unmarked += rows
        for row in rows:
            OUTBOX_PUBLISHED.labels(self._service, row.topic).inc()

    async def _gauge_pending(self, raw: Any, fetched: int) -> None:
        """Unsent events: what this round read, unless it read a full batch (then a count, now and then)."""
        gauge = OUTBOX_PENDING.labels(self._service)
        if fetched < self._batch_size:
            gauge.set(fetched)
        elif time.monotonic() - self._backlog_counted_at > COUNT_BACKLOG_EVERY_S:
            self._backlog_counted_at = time.monotonic()
            gauge.set(await raw.fetchval(
                f"SELECT count(*) FROM {self._qualified} WHERE sent_at IS NULL AND failed_at IS NULL"))

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
        self._unmarked = []  # the next leader sends them again; consumers dedupe
        leader, self._leader = self._leader, None
        try:
            await leader.execute(select(func.pg_advisory_unlock(self._lock_key)))
            await leader.commit()
        except Exception:
            pass  # a dead connection took the lock with it
        finally:
            await leader.close()

    async def purge_sent(self) -> int:
        """Delete the events sent more than SENT_RETENTION ago; returns how many. Ids grow with time, so
        those are the first rows: a walk along the primary key, a chunk at a time, that stops at the first
        row still to send or sent lately (a parked row is kept, and passed). Written as `DELETE … WHERE
        sent_at < …`, it read the whole table each time (2 s for 1.2M rows, beside the service's work)."""
        deleted, after = 0, -(2**63)
        while True:
            async with self._db.engine.begin() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                rows = await raw.fetch(self._purge_walk_sql, after, PURGE_CHUNK)
                old, reached_kept = _old_before_kept(rows)
                if old:
                    await raw.execute(f"DELETE FROM {self._qualified} AS o USING unnest($1::bigint[]) AS d(id) "
                                      "WHERE o.id = d.id", old)
            deleted += len(old)
            if reached_kept or len(rows) < PURGE_CHUNK:
                return deleted
            after = rows[-1]["id"]

    async def purge_processed(self, chunk: int = PURGE_CHUNK) -> int:
        """Forget the ids of events consumed more than `processed_retention_days` ago (the schema's
        `processed_events`, which the idempotent consumers write and nothing else would ever delete);
        returns how many. A chunk a statement, found by the BRIN index on `processed_at`."""
        table = f"{self._db.metadata.schema}.processed_events"
        old = "processed_at < now() - make_interval(secs => $1)"
        sql = f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE {old} LIMIT $2)) AND {old}"
        deleted = 0
        while True:
            async with self._db.engine.begin() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                status = await raw.execute(sql, self._processed_retention_days * 86400.0, chunk)
            count = int(status.rsplit(" ", 1)[-1])
            deleted += count
            if count < chunk:
                return deleted

    @property
    def _purge_walk_sql(self) -> str:
        return (f"SELECT id, CASE WHEN sent_at < now() - interval '{SENT_RETENTION}' THEN 'old' "
                "WHEN sent_at IS NULL AND failed_at IS NOT NULL THEN 'parked' ELSE 'kept' END AS state "
                f"FROM {self._qualified} WHERE id > $1 ORDER BY id LIMIT $2")

    async def _wait_for_work(self) -> None:
        """Until a commit (then a linger, so concurrent commits share the round) or the poll interval;
        marks still owed are written when no round comes within `mark_delay_s`."""
        if self._unmarked and not await self._woken(self._mark_delay_s):
            await self._flush_marks()
        if not self._db.outbox_written.is_set() and not await self._woken(self._poll_interval_s):
            return
        if self._linger_s:
            await asyncio.sleep(self._linger_s)

    async def _woken(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._db.outbox_written.wait(), timeout_s)
            return True
        except TimeoutError:
            return False

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass


def _old_before_kept(rows: list[Any]) -> tuple[list[int], bool]:
    """The ids of the old sent rows up to the first row to keep, and whether one was reached."""
    old = []
    for row in rows:
        if row["state"] == "kept":
            return old, True
        if row["state"] == "old":
            old.append(row["id"])
    return old, False
