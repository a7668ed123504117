"""lock_keys travels with its transaction's BEGIN: the locks hold until commit, a failed first statement
is rolled back, and the connection goes back to the pool clean."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sqlalchemy import MetaData

from leadflow_intake.db import metadata
from leadflow_scoring.db import metadata as scoring_metadata
from leadflow_shared.db import Database, _driver_connection, driver_connection, lock_keys


async def _holder_waits(dsn: str, key: str, of: MetaData = metadata) -> bool:
    """Whether a second transaction (of the service whose tables are `of`) locking `key` has to wait."""
    other = Database(dsn, of, "/test/other")
    try:
        async with other.uow() as uow:
            await asyncio.wait_for(lock_keys(uow.session, [key]), 0.5)
        return False
    except TimeoutError:
        return True
    finally:
        await other.dispose()


async def test_locks_taken_with_begin_hold_until_commit(leadflow_env: dict[str, str], migrated: Any) -> None:
    db = Database(leadflow_env["LEADFLOW_PG_DSN"], metadata, "/test/locks")
    try:
        async with db.uow() as uow:
            await lock_keys(uow.session, ["mobile:+8613800138000", "company:示例科技"])
            raw = await driver_connection(uow.session)
            assert raw.is_in_transaction()
            assert await raw.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                      "AND pid = pg_backend_pid()") == 2
            assert await _holder_waits(leadflow_env["LEADFLOW_PG_DSN"], "company:示例科技")
            await uow.session.execute(metadata.tables["intake.outbox"].select().limit(1))  # SQLAlchemy joins it
            await uow.commit()
        assert not await _holder_waits(leadflow_env["LEADFLOW_PG_DSN"], "company:示例科技")
    finally:
        await db.dispose()


async def test_a_failed_first_statement_is_rolled_back_and_the_connection_reused(
        leadflow_env: dict[str, str], migrated: Any) -> None:
    db = Database(leadflow_env["LEADFLOW_PG_DSN"], metadata, "/test/locks", pool_size=1)
    try:
        with pytest.raises(Exception, match="division by zero"):
            async with db.uow() as uow:
                await _driver_connection(uow.session, "SELECT 1/0")
        async with db.uow() as uow:  # the pool's only connection: not left in an aborted transaction
            await lock_keys(uow.session, ["lead:after"])
            raw = await driver_connection(uow.session)
            assert await raw.fetchval("SELECT 1") == 1
            await uow.commit()
            assert not raw.is_in_transaction()
    finally:
        await db.dispose()


async def test_services_sharing_a_database_lock_their_own_keys(leadflow_env: dict[str, str], migrated: Any) -> None:
    """Advisory locks belong to the whole database: scoring's "lead:…" must not wait for intake's (or
    opportunity's) transaction on the same lead when the services share one database, as the local stack's do."""
    dsn = leadflow_env["LEADFLOW_PG_DSN"]
    db = Database(dsn, scoring_metadata, "/test/scoring-locks")
    try:
        async with db.uow() as uow:
            await lock_keys(uow.session, ["lead:6f1c2b1e-0000-4000-8000-000000000042"])
            assert await _holder_waits(dsn, "lead:6f1c2b1e-0000-4000-8000-000000000042", scoring_metadata)
            assert not await _holder_waits(dsn, "lead:6f1c2b1e-0000-4000-8000-000000000042")  # intake's
            await uow.commit()
    finally:
        await db.dispose()
