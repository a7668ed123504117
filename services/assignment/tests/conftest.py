"""Fixtures of assignment's tests: its database (this session's, migrated) and a way to set the organisation
and rules a test routes under (each test names its own teams and reps, so tests never share a rep's load)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow_assignment.assigner import Assigner
from leadflow_assignment.db import metadata
from leadflow_assignment.settings import AssignmentSettings
from leadflow_shared.contracts import LeadScored, LeadSnapshot
from leadflow_shared.db import Database, UnitOfWork


@pytest.fixture
async def db(service_env: dict[str, str]) -> AsyncIterator[Database]:
    database = Database(service_env["LEADFLOW_PG_DSN"], metadata, "/leadflow/assignment-test", pool_size=4)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def assigner(service_env: dict[str, str]) -> Assigner:
    return Assigner(AssignmentSettings(pg_dsn=service_env["LEADFLOW_PG_DSN"]))


@pytest.fixture
def run(db: Database) -> Callable[[Callable[[UnitOfWork], Awaitable[Any]]], Awaitable[Any]]:
    async def go(work: Callable[[UnitOfWork], Awaitable[Any]]) -> Any:
        async with db.uow() as uow:
            result = await work(uow)
            await uow.commit()
            return result
    return go


async def configure(db: Database, org: dict[str, Any], rules: dict[str, Any] | None = None) -> None:
    """Make `org` and `rules` (default: the default rules' shape) the versions in force."""
    assigner = Assigner(AssignmentSettings())
    from leadflow_assignment.domain.org import parse_organisation

    async with db.uow() as uow:
        await assigner.store_rules(uow, {}, "test")  # valid under any organisation
        await uow.commit()
    async with db.uow() as uow:
        await assigner.store_org(uow, parse_organisation(org), "test")
        await uow.commit()
    if rules is not None:
        async with db.uow() as uow:
            await assigner.store_rules(uow, rules, "test")
            await uow.commit()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def scored(lead_id: uuid.UUID | None = None, *, stage: str = "mql", grade: str = "B", probability: float | None = 0.3,
           company_id: uuid.UUID | None = None, **lead: Any) -> LeadScored:
    return LeadScored(lead_id=lead_id or uuid.uuid4(), score=60.0, grade=grade, stage=stage, probability=probability,
                      rules_version="1", company_id=company_id,
                      lead=LeadSnapshot(**{"source": "website", **lead}))


def now() -> datetime:
    return datetime.now(UTC)
