"""pool's HTTP API with staff tokens: every staff role reads where a lead is; a follow-up is recorded by the
lead's own rep, or a manager or admin, never by another rep (403 with the reason)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from leadflow_pool.app import service
from leadflow_pool.db import PoolRepository, metadata
from leadflow_pool.domain.model import PoolStatus, workflow_id
from leadflow_shared.db import Database


@pytest.fixture
def client(settings_env: dict[str, str]) -> Iterator[TestClient[Litestar]]:
    """pool's app as it runs, on this test's database, Kafka and Temporal task queue."""
    with TestClient(service.create_app(service.settings()), timeout=30) as test_client:
        yield test_client


def _owned_lead(env: dict[str, str], owner: str) -> uuid.UUID:
    lead_id = uuid.uuid4()

    async def write() -> None:
        db = Database(env["LEADFLOW_PG_DSN"], metadata, "/tests/pool-http", pool_size=1)
        try:
            async with db.uow() as uow:
                await PoolRepository(uow.session).upsert(lead_id, pool_id="public", owner_id=owner,
                                                         status=PoolStatus.owned, workflow_id=workflow_id(str(lead_id)))
                await uow.commit()
        finally:
            await db.dispose()

    asyncio.run(write())
    return lead_id


def test_every_staff_role_reads_where_a_lead_is(client: TestClient[Litestar], service_env: dict[str, str],
                                                staff_token: Any) -> None:
    lead_id = _owned_lead(service_env, "rep-wang")
    assert client.get(f"/v1/leads/{lead_id}").status_code == 401
    for role in ("rep", "sdr", "manager", "admin"):
        reply = client.get(f"/v1/leads/{lead_id}", headers={"Authorization": staff_token(f"{role}-1", role)})
        assert reply.status_code == 200 and reply.json()["owner_id"] == "rep-wang", reply.text


def test_a_rep_records_follow_ups_on_his_own_leads_only(client: TestClient[Litestar], service_env: dict[str, str],
                                                        staff_token: Any) -> None:
    mine, theirs = _owned_lead(service_env, "rep-wang"), _owned_lead(service_env, "rep-zhou")
    wang = {"Authorization": staff_token("rep-wang", "rep")}

    refused = client.post(f"/v1/leads/{theirs}/follow-ups", headers={**wang, "Accept-Language": "zh-CN"})
    assert refused.status_code == 403 and "不归您负责" in refused.json()["detail"]
    refused = client.post(f"/v1/leads/{theirs}/follow-ups", headers=wang)
    assert refused.status_code == 403 and "not yours" in refused.json()["detail"]
    assert client.get(f"/v1/leads/{theirs}", headers=wang).json()["status"] == "owned"  # unchanged

    done = client.post(f"/v1/leads/{mine}/follow-ups", headers=wang)
    assert done.status_code == 202 and done.json()["status"] == "followed_up", done.text
    assert client.post(f"/v1/leads/{uuid.uuid4()}/follow-ups", headers=wang).status_code == 404

    sdr = client.post(f"/v1/leads/{theirs}/follow-ups", headers={"Authorization": staff_token("sdr-li", "sdr")})
    assert sdr.status_code == 403 and "rep, manager, admin" in sdr.json()["detail"]
    manager = client.post(f"/v1/leads/{theirs}/follow-ups",
                          headers={"Authorization": staff_token("mgr-li", "manager", teams=["east"])})
    assert manager.status_code == 202 and manager.json()["status"] == "followed_up", manager.text
