"""Alembic, per service: each service's history lives in its own schema (`<schema>.alembic_version`).

A service's `migrations/env.py` is one call: `run_migrations(metadata)`.
"""

from __future__ import annotations

import asyncio
import os
import zlib

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(package: str, dsn: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"{package}:migrations")
    config.attributes["dsn"] = dsn
    return config


def upgrade(package: str, dsn: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(package, dsn), revision)


def revision(package: str, dsn: str, message: str) -> None:
    import importlib.resources

    config = alembic_config(package, dsn)
    versions = importlib.resources.files(package) / "migrations" / "versions"
    config.set_main_option("version_locations", str(versions))
    command.revision(config, message=message, autogenerate=True)


def run_migrations(metadata: MetaData) -> None:
    """Body of every service's env.py: online migrations over asyncpg, serialized by an advisory lock."""
    config = context.config
    dsn = config.attributes.get("dsn") or os.environ["LEADFLOW_PG_DSN"]
    if context.is_offline_mode():
        context.configure(url=dsn, target_metadata=metadata, version_table_schema=metadata.schema,
                          literal_binds=True, include_schemas=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(dsn, metadata))


async def _run_online(dsn: str, metadata: MetaData) -> None:
    engine = create_async_engine(dsn)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_migrate, metadata)
    finally:
        await engine.dispose()


def _migrate(conn: Connection, metadata: MetaData) -> None:
    schema = metadata.schema
    # Replicas started together (LEADFLOW_MIGRATE_ON_START) migrate one at a time.
    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": zlib.crc32(f"leadflow-migrate-{schema}".encode())})
    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    conn.commit()
    context.configure(
        connection=conn,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=lambda name, type_, _: type_ != "schema" or name == schema,
    )
    with context.begin_transaction():
        context.run_migrations()
    conn.commit()


def create_plumbing_tables_v1(schema: str) -> None:
    """In a service's first migration: its outbox and processed-event tables.

    Frozen: migrations that ran must mean the same forever, so a change to these tables is a new
    function (and a new migration), never an edit here.
    """
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
        schema=schema,
    )
    op.create_index("ix_outbox_unsent", "outbox", ["id"], unique=False, schema=schema,
                    postgresql_where=sa.text("sent_at IS NULL AND failed_at IS NULL"))
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        schema=schema,
    )


def drop_plumbing_tables_v1(schema: str) -> None:
    from alembic import op

    op.drop_table("processed_events", schema=schema)
    op.drop_index("ix_outbox_unsent", table_name="outbox", schema=schema)
    op.drop_table("outbox", schema=schema)


def outbox_payload_as_text_v2(schema: str) -> None:
    """An outbox payload is the event's JSON exactly as the relay will send it: kept as text, Postgres
    neither parses it on the way in nor prints it on the way out (jsonb did both, ~60 µs an event)."""
    import sqlalchemy as sa
    from alembic import op

    op.alter_column("outbox", "payload", type_=sa.Text(), postgresql_using="payload::text", schema=schema)


def outbox_payload_as_jsonb_v1(schema: str) -> None:
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.alter_column("outbox", "payload", type_=postgresql.JSONB(), postgresql_using="payload::jsonb", schema=schema)


def processed_events_by_time_v1(schema: str) -> None:
    """A BRIN index on when events were processed, for the relay leader's purge of old ids: a few pages for
    millions of rows, since rows are written in time order (the primary key, a random UUID, is not)."""
    from alembic import op

    with op.get_context().autocommit_block():  # built without blocking the consumers' writes
        op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"], schema=schema,
                        postgresql_using="brin", postgresql_concurrently=True)


def drop_processed_events_by_time_v1(schema: str) -> None:
    from alembic import op

    op.drop_index("ix_processed_events_processed_at", table_name="processed_events", schema=schema)


def downgrade(package: str, dsn: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(package, dsn), revision)


def pending_model_changes(metadata: MetaData, dsn: str) -> list[object]:
    """What autogenerate would still write: tables in db.py that no migration creates (or vice versa)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def compare(conn: Connection) -> list[object]:
        ctx = MigrationContext.configure(conn, opts={
            "include_schemas": True, "version_table_schema": metadata.schema,
            "include_name": lambda name, type_, _: type_ != "schema" or name == metadata.schema,
        })
        return list(compare_metadata(ctx, metadata))

    async def run() -> list[object]:
        engine = create_async_engine(dsn)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())
