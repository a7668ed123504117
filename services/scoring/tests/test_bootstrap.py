"""scoring's container: built once by `bootstrap`, its parts wired to each other, and a test's own parts
put in its place (here a company registry the test holds, instead of the registry table)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from functools import partial

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_localstack.testing import eventually, in_process, produce
from leadflow_scoring.app import service as scoring
from leadflow_scoring.bootstrap import bootstrap
from leadflow_scoring.db import metadata
from leadflow_scoring.domain.enrichment import RegistryCompany
from leadflow_scoring.registry import TableRegistry
from leadflow_scoring.settings import ScoringSettings
from leadflow_shared.contracts import LEADS_RECEIVED, LeadReceived, LeadSnapshot
from leadflow_shared.db import Database
from leadflow_shared.errors import TransientError
from leadflow_shared.events import CloudEvent
from leadflow_shared.normalize import company_name

COMPANY = "苏州测试注入精密机械有限公司"


class HeldRegistry:
    """A registry of the test's own: one company, and every look-up it was asked."""

    def __init__(self) -> None:
        self.asked: list[Sequence[str]] = []

    async def find(self, session: AsyncSession, codes: Sequence[str], canonicals: Sequence[str]
                   ) -> list[RegistryCompany]:
        self.asked.append(canonicals)
        return [RegistryCompany(name=COMPANY, canonical=company_name(COMPANY).canonical, source="held",
                                industry="通用设备制造业", employees=800, province="江苏", city="苏州")]


def test_bootstrap_wires_one_scorer_through_handlers_and_jobs() -> None:
    settings = ScoringSettings(pg_dsn="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    container = bootstrap(settings, Database(settings.pg_dsn, metadata, "/test"))
    assert isinstance(container.handlers._registry, TableRegistry)
    assert container.components() == (container.watcher, container.rescore, container.expiry)
    assert container.watcher.scorer is container.scorer is container.rescore.scorer
    with pytest.raises(TransientError):  # events before the rules wait; they are never dead-lettered
        container.scorer()


async def test_a_container_built_with_a_part_of_the_tests_own_uses_it(settings_env: dict[str, str]) -> None:
    registry = HeldRegistry()
    lead_id = uuid.uuid4()
    event = CloudEvent[LeadReceived](
        source="/tests", type=LEADS_RECEIVED.event_type, subject=str(lead_id),
        data=LeadReceived(lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created",
                          lead=LeadSnapshot(name="钱多多", mobile="+8613900139123", company_name=COMPANY)))
    async with in_process(scoring, bootstrap=partial(bootstrap, registry=registry)) as runtime:
        assert runtime.container.handlers._registry is registry
        await produce(settings_env["LEADFLOW_KAFKA_BOOTSTRAP"], f"{settings_env['LEADFLOW_KAFKA_TOPIC_PREFIX']}"
                      f"{LEADS_RECEIVED.name}", event.to_bytes(), key=event.subject.encode(),
                      headers=event.kafka_headers())
        enrichment = await eventually(lambda: _enrichment(settings_env["LEADFLOW_PG_DSN"], lead_id))
    assert enrichment["source"] == "held"
    assert [company_name(COMPANY).canonical] in registry.asked


async def _enrichment(dsn: str, lead_id: uuid.UUID) -> dict[str, object] | None:
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg", "postgresql"))
    try:
        found = await conn.fetchval("SELECT enrichment FROM scoring.leads WHERE lead_id = $1", lead_id)
    finally:
        await conn.close()
    return json.loads(found) if found else None
