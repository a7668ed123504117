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
