"""Fixtures for every test: real Postgres, Kafka and Temporal (see leadflow_localstack.testing)."""

from __future__ import annotations

import uuid

import pytest

pytest_plugins = ["leadflow_localstack.testing"]


@pytest.fixture
def partner(leadflow_env: dict[str, str], migrated: object) -> tuple[str, str]:
    """A channel partner of intake's (id, API key), made as `leadflow partners create` makes one."""
    from leadflow_intake.cli import add_partner

    return add_partner(f"partner {uuid.uuid4().hex[:6]}", 1000.0, dsn=leadflow_env["LEADFLOW_PG_DSN"])
