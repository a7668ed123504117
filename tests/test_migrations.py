"""Each service's migrations build exactly its db.py tables, in its own schema, and can be undone."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from leadflow_localstack.testing import Infra
from leadflow_shared import migrations
from leadflow_shared.db import drop_database
from leadflow_shared.service import discover_services


@pytest.fixture
def empty_database(infra: Infra):  # type: ignore[no-untyped-def]
    name = f"leadflow_migrations_{uuid.uuid4().hex[:8]}"
    admin = infra.pg_dsn.replace("postgresql+asyncpg", "postgresql")
    asyncio.run(_execute(admin, f'CREATE DATABASE "{name}"'))
    yield infra.pg_dsn.rpartition("/")[0] + f"/{name}"
    asyncio.run(_drop(admin, name))


async def _drop(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await drop_database(conn, name)
    finally:
        await conn.close()


async def _execute(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg", "postgresql"))
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


@pytest.mark.parametrize("name", ["intake", "scoring", "assignment", "pool", "opportunity", "console", "notify"])
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


def test_phone_wechat_ids_kept_by_scoring_become_mobile_keys(empty_database: str) -> None:
    """Scoring filed a WeChat id that is a phone number as `wechat:+86…`; intake as `mobile:+86…`. After
    the migration the stored contacts and waiting activities say `mobile:`, and a number that already is
    a lead's mobile stays that lead's."""
    scoring = discover_services()["scoring"]
    migrations.upgrade(scoring.package, empty_database, "510cdd1615f7")
    a, b, waiting, applied = (uuid.uuid4() for _ in range(4))
    asyncio.run(_execute(empty_database, f"""
        INSERT INTO scoring.lead_contacts (key, lead_id) VALUES
          ('wechat:+8613900000001', '{a}'), ('wechat:+8613900000002', '{a}'), ('mobile:+8613900000002', '{b}'),
          ('wechat:zhang_san', '{a}')"""))
    asyncio.run(_execute(empty_database, f"""
        INSERT INTO scoring.activities (activity_id, contact_keys, type, occurred_at, applied_at) VALUES
          ('{waiting}', ARRAY['wechat:+8613900000003', 'mobile:+8613900000003', 'email:z@s.cn'], 'page_view',
           now(), NULL),
          ('{applied}', ARRAY['wechat:+8613900000004'], 'page_view', now(), now())"""))
    scoring.migrate(empty_database)
    contacts = asyncio.run(_execute(empty_database, "SELECT key, lead_id FROM scoring.lead_contacts ORDER BY key"))
    assert [(r["key"], r["lead_id"]) for r in contacts] == [
        ("mobile:+8613900000001", a), ("mobile:+8613900000002", b), ("wechat:zhang_san", a)]
    keys = asyncio.run(_execute(empty_database, "SELECT activity_id, contact_keys FROM scoring.activities"))
    assert {r["activity_id"]: r["contact_keys"] for r in keys} == {
        waiting: ["mobile:+8613900000003", "email:z@s.cn"], applied: ["wechat:+8613900000004"]}
