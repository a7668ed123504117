"""Fixtures of opportunity's tests: its API in this process on this test's database, and leads as the events
of intake, scoring and assignment would have left them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from leadflow_opportunity.app import service
from leadflow_opportunity.db import metadata
from leadflow_opportunity.settings import OpportunitySettings
from leadflow_opportunity.tables import leads
from leadflow_shared.db import Database

Token = Callable[..., str]


@pytest.fixture
async def db(service_env: dict[str, str]) -> AsyncIterator[Database]:
    database = Database(service_env["LEADFLOW_PG_DSN"], metadata, "/leadflow/opportunity-test", pool_size=4)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def api(settings_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=service.create_app(OpportunitySettings())) as client:
        yield client


@pytest.fixture
async def b2c_api(settings_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=service.create_app(OpportunitySettings(customer_mode="b2c"))) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def staff(token: Token, who: str, role: str = "rep", team: str = "east", **headers: str) -> dict[str, str]:
    return {"Authorization": token(who, role, teams=[team]), **headers}


async def owned_lead(db: Database, owner: str | None, team: str = "east", accepted: bool = True,
                     sdr: str | None = None, **snapshot: Any) -> uuid.UUID:
    """A lead as opportunity knows it once intake received it and assignment gave it to `owner`."""
    lead_id = uuid.uuid4()
    now = datetime.now(UTC)
    body = {"name": "王五", "mobile": f"+86139{uuid.uuid4().int % 10**8:08d}", "company_name": "示例科技有限公司",
            "province": "上海市", "city": "上海市", "source": "website", **snapshot}
    async with db.uow() as uow:
        await uow.session.execute(leads.insert().values(
            lead_id=lead_id, owner_id=owner, team_id=team, status="open" if owner else "unowned", qualified_by=sdr,
            source=body["source"], snapshot=body, received_at=now, mql_at=now,
            accepted_at=now if accepted else None, accepted_by=owner if accepted else None))
        await uow.commit()
    return lead_id
