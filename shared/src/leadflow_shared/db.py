"""Postgres plumbing: the engine, the outbox and processed-event tables, and the unit of work.

Each service owns one schema. Its state, the events it will publish (outbox) and the ids of events it
has consumed (processed_events) are written in one transaction, so a crash can neither lose an event
nor apply one twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from types import TracebackType
from typing import Any

import pydantic_core
from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    event,
    func,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB, insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from leadflow_shared.contracts import Topic
from leadflow_shared.events import CloudEvent


def service_metadata(schema: str) -> MetaData:
    """A service's MetaData, in its own schema, with the outbox and processed-event tables in it."""
    metadata = MetaData(schema=schema)
    Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True)),
        Column("failed_at", DateTime(timezone=True)),
        Column("error", Text),
        Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL AND failed_at IS NULL")),
    )
    Table(
        "processed_events",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return metadata


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's transaction. Hot statements go to it directly:
    SQLAlchemy's per-statement compile and cache-key work costs more than the round trip itself."""
    connection = await session.connection()
    adapter = (await connection.get_raw_connection()).dbapi_connection
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement: make sure it has been
    # sent, or a statement sent directly would run outside the transaction (private, pinned in uv.lock).
    if adapter._transaction is None:
        await adapter._start_transaction()
    return adapter._connection


LOCK_SQL = (
    "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h "
    "FROM unnest($1::text[]) AS k ORDER BY h) AS locks"
)


async def lock_keys(session: AsyncSession, keys: Iterable[str]) -> None:
    """Transaction-scoped advisory locks on these keys (a person, a lead...), taken in hash order so two
    transactions never deadlock on them: work on the same thing waits for the other to commit."""
    unique = sorted(set(keys))
    if unique:
        await (await driver_connection(session)).fetch(LOCK_SQL, unique)


async def insert_rows(session: AsyncSession, writes: Sequence[tuple[Table, Sequence[dict[str, Any]]]]) -> None:
    """Insert the rows of several tables with one statement, so one round trip.

    Each table gets a data-modifying CTE fed by unnest() of one array per column: as fast as COPY for a
    thousand rows, and far cheaper than an INSERT per table for one. The rows of a table share their keys.
    JSON columns take dicts, lists, or JSON text already serialized (an outbox payload).
    """
    writes = [(table, rows) for table, rows in writes if rows]
    if not writes:
        return
    shape = tuple((table, tuple(rows[0])) for table, rows in writes)
    args = [[_unnest_value(row[name]) for row in rows] for (_, rows), (_, names) in zip(writes, shape)
            for name in names]
    await (await driver_connection(session)).execute(_insert_rows_sql(shape), *args)


@lru_cache(maxsize=256)
def _insert_rows_sql(shape: tuple[tuple[Table, tuple[str, ...]], ...]) -> str:
    parts, n = [], 0
    for t, (table, names) in enumerate(shape):
        arrays, casts = [], []
        for c, name in enumerate(names):
            n += 1
            array_type, to_column = _unnest_types(table.c[name])
            arrays.append(f"${n}::{array_type}")
            casts.append(to_column.format(f"u.c{c}"))
        parts.append(
            f"w{t} AS (INSERT INTO {table.schema}.{table.name} ({', '.join(names)}) SELECT {', '.join(casts)} "
            f"FROM unnest({', '.join(arrays)}) AS u({', '.join(f'c{i}' for i in range(len(names)))}))"
        )
    return f"WITH {', '.join(parts)} SELECT 1"


def _unnest_types(column: Column[Any]) -> tuple[str, str]:
    """The array type a column's values travel in, and the cast that turns an element into the column's type."""
    kind = column.type.compile(dialect=postgresql.dialect())
    if isinstance(column.type, Uuid):
        return "uuid[]", "{}"
    if isinstance(column.type, DateTime):
        return "timestamptz[]", "{}"
    if isinstance(column.type, postgresql.ARRAY):  # arrays of arrays may be ragged: they travel as JSON
        return "text[]", f"CAST(ARRAY(SELECT jsonb_array_elements_text(CAST({{}} AS jsonb))) AS {kind})"
    if isinstance(column.type, String):  # no explicit cast: it would cut a too-long value instead of refusing it
        return "text[]", "{}"
    return "text[]", f"CAST({{}} AS {kind})"


def _unnest_value(value: Any) -> Any:
    if value is None or isinstance(value, uuid.UUID | datetime | str):
        return value
    if isinstance(value, dict | list):
        return json_text(value)
    return str(value)


def json_text(value: Any) -> str:
    """JSON as text, by pydantic-core (several times faster than the json module; UUIDs, datetimes fine)."""
    return pydantic_core.to_json(value, fallback=str).decode()


def make_engine(dsn: str, *, pool_size: int = 10) -> AsyncEngine:
    engine = create_async_engine(dsn, pool_size=pool_size, max_overflow=pool_size,
                                 json_serializer=json_text, json_deserializer=pydantic_core.from_json)
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pessimistic disconnect handling without a round trip. SQLAlchemy's pre-ping costs three on asyncpg
    (BEGIN, a ping, ROLLBACK) per checkout: a third of a single lead's statements. A connection the
    server has closed (a restart, a failover) is known closed to asyncpg; raising here makes the pool
    discard it and hand out another. (A silently dead peer is caught by the statement's error: transient.)"""
    if dbapi_connection._connection.is_closed():
        raise sa_exc.DisconnectionError("connection closed by the server")


class UnitOfWork:
    """One transaction of a service: its writes and the events they cause commit together.

    Use as `async with uow_factory() as uow: ...; await uow.commit()`; leaving the block without
    commit rolls back (cosmicpython's pattern).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        metadata: MetaData,
        source: str,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = metadata.tables[f"{metadata.schema}.outbox"]
        self._processed = metadata.tables[f"{metadata.schema}.processed_events"]
        self._source = source
        self._on_commit = on_commit
        self._published = 0
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        await self.session.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.session.rollback()  # a no-op after commit
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()
        if self._published and self._on_commit:
            self._on_commit()
        self._published = 0

    async def publish(self, topic: Topic, subject: str | uuid.UUID, data: BaseModel) -> CloudEvent[Any]:
        """Stage an event in the outbox; it leaves for Kafka only if this transaction commits."""
        return (await self.publish_many([(topic, subject, data)]))[0]

    async def publish_many(self, events: list[tuple[Topic, str | uuid.UUID, BaseModel]]) -> list[CloudEvent[Any]]:
        """Stage several events with one statement, in the order given."""
        envelopes = [self._envelope(topic, subject, data) for topic, subject, data in events]
        if envelopes:
            await insert_rows(self.session, [self.outbox_rows(envelopes)])
        return envelopes

    def outbox_rows(self, envelopes: Sequence[CloudEvent[Any]]) -> tuple[Table, list[dict[str, Any]]]:
        """The outbox rows of these events, for a caller that inserts them with its own rows (one round
        trip); they leave for Kafka only if this transaction commits."""
        self._published += len(envelopes)
        # Serialized once, by pydantic-core: the relay sends these exact bytes (no decode/encode).
        return self._outbox, [
            {"event_id": e.id, "topic": e.topic, "key": e.subject, "payload": e.model_dump_json(),
             "headers": json_text(e.kafka_headers())}
            for e in envelopes
        ]

    def envelopes(self, events: Sequence[tuple[Topic, str | uuid.UUID, BaseModel]]) -> list[CloudEvent[Any]]:
        return [self._envelope(topic, subject, data) for topic, subject, data in events]

    def _envelope(self, topic: Topic, subject: str | uuid.UUID, data: BaseModel) -> CloudEvent[Any]:
        if not isinstance(data, topic.data_model):
            raise TypeError(f"{topic.name} carries {topic.data_model.__name__}, not {type(data).__name__}")
        return _envelope_class(type(data))(
            source=self._source, type=topic.event_type, subject=str(subject), data=data,
            dataschema=f"urn:leadflow:schema:{topic.name}",
        )

    async def mark_processed(self, event_id: uuid.UUID, topic: str) -> bool:
        """Record a consumed event; False when it was processed before (a redelivery)."""
        result = await self.session.execute(
            pg_insert(self._processed)
            .values(event_id=event_id, topic=topic, processed_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self._processed.c.event_id)
        )
        return result.first() is not None

    async def mark_processed_many(self, event_ids: Sequence[uuid.UUID], topic: str) -> set[uuid.UUID]:
        """Record consumed events with one statement; returns the ids not processed before (the fresh
        ones). An id given twice is recorded, and returned, once."""
        if not event_ids:
            return set()
        table = self._processed.fullname
        rows = await (await driver_connection(self.session)).fetch(
            f"INSERT INTO {table} (event_id, topic, processed_at) SELECT u, $2, now() "
            "FROM unnest($1::uuid[]) AS u ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            list(event_ids), topic,
        )
        return {row[0] for row in rows}


@lru_cache(maxsize=64)
def _envelope_class(data_model: type[BaseModel]) -> type[CloudEvent[Any]]:
    return CloudEvent[data_model]  # type: ignore[valid-type]  # parametrizing on every event costs


class Database:
    """A service's engine and its unit-of-work factory."""

    def __init__(self, dsn: str, metadata: MetaData, source: str, *, pool_size: int = 10) -> None:
        self.engine = make_engine(dsn, pool_size=pool_size)
        self.metadata = metadata
        self.source = source
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.outbox_written = asyncio.Event()

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.metadata, self.source, on_commit=self.outbox_written.set)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def run_transaction(database: Callable[[], Database], work: Callable[[UnitOfWork], Any]) -> Any:
    """`await work(uow)` in one committed transaction, from synchronous code (CLI commands)."""
    async def go() -> Any:
        db = database()
        try:
            async with db.uow() as uow:
                result = await work(uow)
                await uow.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(go())


async def recreate_database(admin_conn: Any, name: str, attempts: int = 10) -> None:
    """Drop and create a scratch database (benchmarks). Dropping it `WITH (FORCE)` can be refused while an
    autovacuum worker, which a non-superuser may not end, is still busy in it: wait and try again."""
    for attempt in range(attempts):
        try:
            await admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            break
        except Exception:  # asyncpg.InsufficientPrivilegeError, ObjectInUseError
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(2.0)
    await admin_conn.execute(f'CREATE DATABASE "{name}"')
