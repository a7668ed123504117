"""Postgres plumbing: the engine, the outbox and processed-event tables, and the unit of work.

Each service owns one schema. Its state, the events it will publish (outbox) and the ids of events it
has consumed (processed_events) are written in one transaction, so a crash can neither lose an event
nor apply one twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from types import TracebackType
from typing import Any

import msgspec
import pydantic_core
from asyncpg.transaction import TransactionState
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
    literal_column,
    select,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB, insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from leadflow_shared.contracts import Topic
from leadflow_shared.events import CloudEvent, envelope_document, kafka_headers


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
        Column("payload", Text, nullable=False),  # the event's JSON, sent as stored
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
        Index("ix_processed_events_processed_at", "processed_at", postgresql_using="brin"),
    )
    return metadata


_DRIVER = "leadflow.driver_connection"


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's transaction. Hot statements go to it directly:
    SQLAlchemy's per-statement compile and cache-key work costs more than the round trip itself.
    It is kept in the session until the UnitOfWork ends the transaction (finding it costs greenlet hops)."""
    return await _driver_connection(session, first_statement=None)


async def _driver_connection(session: AsyncSession, first_statement: str | None) -> Any:
    """driver_connection; `first_statement` (no parameters) is run in the same round trip as BEGIN when
    the transaction has not begun yet, else on its own."""
    cached = session.info.get(_DRIVER)
    if cached is None:
        connection = await session.connection()
        adapter = (await connection.get_raw_connection()).dbapi_connection
        # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement: make sure it has been
        # sent, or a statement sent directly would run outside the transaction (private, pinned in uv.lock).
        if adapter._transaction is None:
            if first_statement is not None and _plain_transaction(adapter):
                await _begin_with(adapter, first_statement)
                first_statement = None
            else:
                await adapter._start_transaction()
        cached = session.info[_DRIVER] = adapter._connection
    if first_statement is not None:
        await cached.execute(first_statement)
    return cached


def _plain_transaction(adapter: Any) -> bool:
    return adapter.isolation_level is None and not adapter.readonly and not adapter.deferrable


async def _begin_with(adapter: Any, statement: str) -> None:
    """BEGIN and a first statement in one round trip (the simple query protocol takes both), then the
    transaction handed to asyncpg and SQLAlchemy as if they had begun it, so that they commit or roll it
    back as usual (private state of both, pinned in uv.lock; asyncpg's own start sends the same `BEGIN;`)."""
    raw = adapter._connection
    transaction = raw.transaction()
    try:
        await raw.execute(f"BEGIN;{statement}")
    finally:
        if raw._protocol.is_in_transaction():  # BEGIN ran, even if the statement failed: roll it back later
            transaction._state = TransactionState.STARTED
            raw._top_xact = transaction
            adapter._transaction = transaction


LOCK_NAMESPACE = "leadflow.lock_namespace"  # session.info: the schema whose advisory locks a session takes


def _lock_id(key: str) -> int:
    """A key's advisory lock: 64 bits of its BLAKE2b digest, as Postgres's signed bigint."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


async def lock_keys(session: AsyncSession, keys: Iterable[str]) -> None:
    """Transaction-scoped advisory locks on these keys (a person, a lead...), taken in id order so two
    transactions never deadlock on them: work on the same thing waits for the other to commit. The ids
    are integers spelled into the statement, so that it can travel with the transaction's BEGIN.

    Advisory locks belong to the whole database, and services may share one (the local stack does): a
    key is locked within its service's schema, else scoring's "lead:…" would wait for opportunity's."""
    namespace = session.info.get(LOCK_NAMESPACE, "")
    ids = sorted({_lock_id(f"{namespace}/{k}") for k in keys})
    if ids:
        await _driver_connection(session, "SELECT pg_advisory_xact_lock(k) FROM unnest('{"
                                 + ",".join(map(str, ids)) + "}'::bigint[]) AS k")  # unnest keeps the array's order


async def insert_rows(session: AsyncSession, writes: Sequence[tuple[Table, Sequence[dict[str, Any]]]]) -> None:
    """Insert the rows of several tables with one statement, so one round trip.

    Each table gets a data-modifying CTE fed by one JSON document: its rows as arrays, in column order,
    unpacked by jsonb_array_elements (order kept). One text parameter per table, serialized in one C call,
    costs far less than an array per column: asyncpg checks every array element against three abstract
    base classes in Python. The rows of a table share their keys. JSON columns take dicts, lists, or JSON
    text already serialized (an outbox payload).
    """
    writes = [(table, rows) for table, rows in writes if rows]
    if not writes:
        return
    shape = tuple((table, tuple(rows[0])) for table, rows in writes)
    args = [_rows_json(rows, names, _json_columns(table, names)) for (table, rows), (_, names) in
            zip(writes, shape)]
    await (await driver_connection(session)).execute(_insert_rows_sql(shape), *args)


def json_rows(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> str:
    """Rows as one JSON document of arrays in `names` order, for a statement that unpacks it with
    `jsonb_array_elements($n::text::jsonb) AS r` and reads `r->>i`, or `r->i` for nested JSON (see
    insert_rows). The `::text` keeps asyncpg's jsonb codec from serializing the document a second time."""
    return json_text([[row[name] for name in names] for row in rows])


@dataclass(frozen=True)
class RowsStatement:
    """An INSERT of a JSON document's rows (see `rows_statement`), as SQL text for the driver."""

    table: Table
    names: tuple[str, ...]
    key: tuple[str, ...]  # the conflict target: what one statement may touch once only
    sql: str


def rows_statement(table: Table, names: Sequence[str], key: Sequence[str],
                   finish: Callable[[Any], Any] = lambda statement: statement) -> RowsStatement:
    """An INSERT of a batch's rows into `table` as one JSON document (`names` in order), finished by `finish`
    (its ON CONFLICT clause, built on the statement's `excluded`), compiled once. Run by `execute_rows`: one
    execution per batch, where a statement run once per row (executemany) cost Postgres an executor start,
    a bind and a round of its protocol each, and the driver an encoding per parameter."""
    columns = [literal_column(_from_json(table.c[name], f"r->{i}", f"r->>{i}")) for i, name in enumerate(names)]
    source = select(*columns).select_from(text("jsonb_array_elements($1::text::jsonb) AS r"))
    statement = finish(pg_insert(table).from_select(list(names), source))
    sql = str(statement.compile(dialect=postgresql.asyncpg.dialect(), compile_kwargs={"literal_binds": True}))
    return RowsStatement(table, tuple(names), tuple(key), sql)


async def execute_rows(session: AsyncSession, statement: RowsStatement, rows: Sequence[Mapping[str, Any]]) -> None:
    """Apply the rows in order, as running the statement once per row would: ON CONFLICT may touch a row once
    per statement, so a key's second row goes in a second statement after the first (rarely needed)."""
    json_columns = _json_columns(statement.table, statement.names)
    connection = await driver_connection(session)
    for part in _once_per_key(rows, statement.key):
        await connection.execute(statement.sql, _rows_json(part, statement.names, json_columns))


def _once_per_key(rows: Sequence[Mapping[str, Any]], key: tuple[str, ...]) -> list[list[Mapping[str, Any]]]:
    """The rows in rounds where each key appears once (a key's rows in their order, one a round), each round in
    key order: two replicas writing the same keys (one from a lead's received event, the other from its scored
    one: each topic's partitions are shared out on their own) then lock them in one order, and never deadlock."""
    rounds: list[list[Mapping[str, Any]]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for row in rows:
        k = tuple(row[name] for name in key)
        n = seen[k] = seen.get(k, -1) + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(row)
    for part in rounds:
        part.sort(key=lambda row: tuple(str(row[name]) for name in key))
    return rounds


def _rows_json(rows: Sequence[dict[str, Any]], names: tuple[str, ...], json_columns: frozenset[str]) -> str:
    if not json_columns:
        return json_rows(rows, names)
    # A JSON column travels as JSON text inside the document (Postgres parses it once more): the outbox
    # payload is already serialized and must not be decoded here.
    return json_text([[_as_json_text(row[name]) if name in json_columns else row[name] for name in names]
                      for row in rows])


def _as_json_text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else json_text(value)


@lru_cache(maxsize=256)
def _json_columns(table: Table, names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(name for name in names if isinstance(table.c[name].type, sqltypes.JSON))


@lru_cache(maxsize=256)
def _insert_rows_sql(shape: tuple[tuple[Table, tuple[str, ...]], ...]) -> str:
    parts = []
    for t, (table, names) in enumerate(shape):
        values = ", ".join(_from_json(table.c[name], f"r->{i}", f"r->>{i}") for i, name in enumerate(names))
        parts.append(f"w{t} AS (INSERT INTO {table.schema}.{table.name} ({', '.join(names)}) SELECT {values} "
                     f"FROM jsonb_array_elements(${t + 1}::text::jsonb) AS r)")
    return f"WITH {', '.join(parts)} SELECT 1"


def _from_json(column: Column[Any], element: str, element_text: str) -> str:
    """The expression that turns a row's JSON element into the column's value (JSON null is NULL)."""
    kind = column.type.compile(dialect=postgresql.dialect())
    if isinstance(column.type, sqltypes.ARRAY):  # arrays of arrays may be ragged: elements travel as JSON
        return f"CAST(ARRAY(SELECT jsonb_array_elements_text({element})) AS {kind})"
    if isinstance(column.type, sqltypes.JSON):
        return f"CAST({element_text} AS jsonb)"
    if isinstance(column.type, String):  # no explicit cast: it would cut a too-long value instead of refusing it
        return element_text
    return f"CAST({element_text} AS {kind})"


_JSON = msgspec.json.Encoder(enc_hook=str)


def json_text(value: Any) -> str:
    """JSON as text, by msgspec: a batch's rows are megabytes, and it writes them 3-4 times as fast as
    pydantic-core with a fallback (which walks every value through Python), 5-7 times the json module.
    UUIDs and datetimes are native, NaN is null (Postgres refuses NaN in JSON), anything else is str()."""
    return _JSON.encode(value).decode()


def make_engine(dsn: str, *, pool_size: int = 10, custom_plans: bool = False, name: str | None = None) -> AsyncEngine:
    """`custom_plans`: Postgres plans every execution with its parameters, never a cached generic plan. For
    services whose statements each carry a batch: a generic plan assumes ten rows in an array parameter, and
    one made while a new database's tables were nearly empty stays for the connection's life (it read a
    company's whole history through the wrong index, seconds a batch at 50,000 leads)."""
    settings = {"plan_cache_mode": "force_custom_plan"} if custom_plans else {}
    if name:  # who is who in pg_stat_activity and the server's log
        settings["application_name"] = name
    connect_args = {"server_settings": settings} if settings else {}
    engine = create_async_engine(dsn, pool_size=pool_size, max_overflow=pool_size, connect_args=connect_args,
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
        self.session.info.clear()
        try:
            await self.session.rollback()  # a no-op after commit
        finally:
            await self.session.close()

    async def commit(self) -> None:
        # the next statement starts a new transaction, maybe elsewhere: what was kept for this one goes
        self.session.info.clear()
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
            await insert_rows(self.session, [self._outbox_rows(envelopes)])
        return envelopes

    def event_rows(self, events: Sequence[tuple[Topic, str | uuid.UUID, BaseModel]]) -> tuple[Table, list[dict[str, Any]]]:
        """The outbox rows of these events, for a caller that inserts them with its own rows by `insert_rows`
        (one round trip)."""
        return self._outbox_rows([self._envelope(topic, subject, data) for topic, subject, data in events])

    def _outbox_rows(self, envelopes: Sequence[CloudEvent[Any]]) -> tuple[Table, list[dict[str, Any]]]:
        """The outbox rows of validated envelopes (a caller inserting events with its own rows in one
        round trip uses `document_rows`)."""
        self._published += len(envelopes)
        # Serialized once, by pydantic-core: the relay sends these exact bytes (no decode/encode).
        return self._outbox, [
            {"event_id": e.id, "topic": e.topic, "key": e.subject, "payload": e.model_dump_json(),
             "headers": json_text(e.kafka_headers())}
            for e in envelopes
        ]

    async def publish_documents(self, topic: Topic, documents: Sequence[tuple[str | uuid.UUID, dict[str, Any]]]
                                ) -> None:
        """Stage events whose data are plain JSON-ready dicts already in the shape of the topic's contract,
        written as given inside the CloudEvents envelope. For a hot path: building, validating and dumping
        a contract model per event was a fifth of scoring's time. A caller keeps a test that parses what it
        publishes with the contract (`parse_event`), since nothing here validates it."""
        table, rows = self.document_rows([(topic, subject, data) for subject, data in documents])
        if rows:
            await insert_rows(self.session, [(table, rows)])

    def document_rows(self, documents: Sequence[tuple[Topic, str | uuid.UUID, dict[str, Any]]]
                      ) -> tuple[Table, list[dict[str, Any]]]:
        """The outbox rows of events given as contract-shaped dicts (see publish_documents), in order, for
        a caller that inserts them with its own rows (one round trip)."""
        now, rows = datetime.now(UTC), []
        for topic, subject, data in documents:
            event_id, key = uuid.uuid4(), str(subject)
            rows.append({"event_id": event_id, "topic": topic.name, "key": key,
                         "payload": json_text(envelope_document(event_id, source=self._source, type=topic.event_type,
                                                                time=now, subject=key, dataschema=topic.schema_urn, data=data)),
                         "headers": json_text(kafka_headers(event_id, topic.event_type, self._source, key))})
        self._published += len(rows)
        return self._outbox, rows

    def _envelope(self, topic: Topic, subject: str | uuid.UUID, data: BaseModel) -> CloudEvent[Any]:
        if not isinstance(data, topic.data_model):
            raise TypeError(f"{topic.name} carries {topic.data_model.__name__}, not {type(data).__name__}")
        return _envelope_class(type(data))(
            source=self._source, type=topic.event_type, subject=str(subject), data=data,
            dataschema=topic.schema_urn,
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

    def __init__(self, dsn: str, metadata: MetaData, source: str, *, pool_size: int = 10,
                 custom_plans: bool = False) -> None:
        self.engine = make_engine(dsn, pool_size=pool_size, custom_plans=custom_plans,
                                  name="leadflow-" + source.rsplit("/", 1)[-1])
        self.metadata = metadata
        self.source = source
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False,
                                           info={LOCK_NAMESPACE: metadata.schema or ""})
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
    """Drop and create a scratch database (benchmarks, tests)."""
    await drop_database(admin_conn, name, attempts)
    await admin_conn.execute(f'CREATE DATABASE "{name}"')


async def drop_database(admin_conn: Any, name: str, attempts: int = 10) -> None:
    """Drop a scratch database. Dropping it `WITH (FORCE)` can be refused while an autovacuum worker, which
    a non-superuser may not end, is still busy in it: wait and try again."""
    for attempt in range(attempts):
        try:
            await admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except Exception:  # asyncpg.InsufficientPrivilegeError, ObjectInUseError
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(2.0)
