"""Each service's migrations build exactly its db.py tables, in its own schema, and can be undone."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from leadflow_localstack.testing import Infra
from leadflow_shared import migrations
from leadflow_shared.service import discover_services


@pytest.fixture
def empty_database(infra: Infra):  # type: ignore[no-untyped-def]
    name = f"leadflow_migrations_{uuid.uuid4().hex[:8]}"
    admin = infra.pg_dsn.replace("postgresql+asyncpg", "postgresql")
    asyncio.run(_execute(admin, f'CREATE DATABASE "{name}"'))
    yield infra.pg_dsn.rpartition("/")[0] + f"/{name}"
    asyncio.run(_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _execute(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg", "postgresql"))
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


@pytest.mark.parametrize("name", ["intake", "scoring", "assignment", "pool", "opportunity"])
def test_migrations_match_the_models_and_round_trip(name: str, empty_database: str) -> None:
    service = discover_services()[name]
    service.migrate(empty_database)
    assert migrations.pending_model_changes(service.metadata, empty_database) == []
    tables = asyncio.run(_execute(empty_database, "SELECT DISTINCT table_schema FROM information_schema.tables "
                                                  "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"))
    assert {r["table_schema"] for r in tables} == {service.metadata.schema}, "a service writes only its own schema"

    migrations.downgrade(service.package, empty_database)
    left = asyncio.run(_execute(empty_database, f"SELECT table_name FROM information_schema.tables "
                                                f"WHERE table_schema = '{service.metadata.schema}'"))
    assert [r["table_name"] for r in left] == ["alembic_version"]
    service.migrate(empty_database)  # and forward again


def test_every_gin_index_is_built_as_its_model_says(empty_database: str) -> None:
    """Alembic does not compare index storage options: a GIN index whose model turns fast update off must
    have it off in the database too (its pending list made each search read it whole)."""
    for service in discover_services().values():
        service.migrate(empty_database)
        for table in service.metadata.tables.values():
            for index in table.indexes:
                if index.dialect_options["postgresql"]["using"] != "gin":
                    continue
                expected = [f"{k}={v}" for k, v in (index.dialect_options["postgresql"]["with"] or {}).items()]
                found = asyncio.run(_execute(empty_database, f"SELECT reloptions FROM pg_class c JOIN pg_namespace n "
                                                             f"ON n.oid = c.relnamespace WHERE n.nspname = "
                                                             f"'{table.schema}' AND c.relname = '{index.name}'"))
                assert (found[0]["reloptions"] or []) == expected, index.name
