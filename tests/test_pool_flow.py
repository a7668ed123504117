"""From leads.scored.v1 through assignment, pool's ownership workflow on Temporal, a missed deadline, its
reminder, the recycle (回收) and the second assignment (二次分配) to another rep: real Kafka, Postgres and
Temporal, assignment and pool as they run, deadlines short (a business day lasting fifteen seconds)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from leadflow_assignment.app import service as assignment_service
from leadflow_assignment.assigner import Assigner
from leadflow_assignment.domain.org import parse_organisation
from leadflow_assignment.settings import AssignmentSettings
from leadflow_localstack.testing import eventually, in_process, read_topic
from leadflow_pool.app import service as pool_service
from leadflow_pool.db import metadata as pool_metadata
from leadflow_pool.db import store_pools
from leadflow_pool.domain.pools import parse_pools
from leadflow_pool.tables import pool_leads, timeline
from leadflow_shared.contracts import (
    LEADS_ASSIGNED,
    LEADS_DEADLINE_APPROACHING,
    LEADS_RECYCLED,
    LEADS_SCORED,
    LeadAssigned,
    LeadScored,
    LeadSnapshot,
)
from leadflow_shared.db import Database
from leadflow_shared.events import CloudEvent, parse_event
from leadflow_shared.kafka import ensure_topics, physical_topic


async def publish_scored(env: dict[str, str], lead: LeadScored) -> None:
    await ensure_topics(env["LEADFLOW_KAFKA_BOOTSTRAP"], prefix=env["LEADFLOW_KAFKA_TOPIC_PREFIX"],
                        partitions=int(env["LEADFLOW_KAFKA_TOPIC_PARTITIONS"]))
    event = CloudEvent[LeadScored](source="/tests/scoring", type=LEADS_SCORED.event_type, subject=str(lead.lead_id),
                                   data=lead, dataschema=LEADS_SCORED.schema_urn)
    producer = AIOKafkaProducer(bootstrap_servers=env["LEADFLOW_KAFKA_BOOTSTRAP"], acks="all")
    await producer.start()
    try:
        topic = physical_topic(LEADS_SCORED.name, env["LEADFLOW_KAFKA_TOPIC_PREFIX"])
        await producer.send_and_wait(topic, event.model_dump_json().encode(), key=event.subject.encode())
    finally:
        await producer.stop()


async def configure(env: dict[str, str], team: str) -> None:
    dsn = env["LEADFLOW_PG_DSN"]
    assigner = Assigner(AssignmentSettings(pg_dsn=dsn))
    assignment_db = Database(dsn, assignment_service.metadata, "/tests/flow", pool_size=1)
    try:
        async with assignment_db.uow() as uow:
            await assigner.store_rules(uow, {}, "test")
            await uow.commit()
        async with assignment_db.uow() as uow:
            await assigner.store_org(uow, parse_organisation({
                "teams": [{"id": team, "default_pool": f"{team}-pool"}],
                "reps": [{"id": f"{team}-a", "team": team}, {"id": f"{team}-b", "team": team}]}), "test")
            await uow.commit()
        async with assignment_db.uow() as uow:
            await assigner.store_rules(uow, {"rules": [{"id": "rr", "strategy": "round_robin", "team": team}]}, "test")
            await uow.commit()
    finally:
        await assignment_db.dispose()
    pool_db = Database(dsn, pool_metadata, "/tests/flow", pool_size=1)
    try:
        async with pool_db.uow() as uow:
            await store_pools(uow.session, parse_pools({"default_pool": f"{team}-pool", "pools": [{
                "id": f"{team}-pool", "filter": {"teams": [team]},
                # a business day is 15 s: first follow-up due 15 s after the assignment, reminded 6 s before
                "rules": {"first_follow_up_days": 1, "reminder_hours": 6 / 3600, "conversion_days": 30}}]}), "test")
            await uow.commit()
    finally:
        await pool_db.dispose()


async def pool_row(db: Database, lead_id: uuid.UUID) -> dict[str, Any] | None:
    async with db.uow() as uow:
        row = (await uow.session.execute(select(pool_leads).where(pool_leads.c.lead_id == lead_id))).mappings().first()
    return dict(row) if row else None


async def test_a_missed_deadline_recycles_the_lead_and_another_rep_gets_it(
    settings_env: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("LEADFLOW_BUSINESS_DAY_MINUTES", "0.25")
    team = f"flow-{uuid.uuid4().hex[:6]}"
    await configure(settings_env, team)
    lead_id = uuid.uuid4()
    db = Database(settings_env["LEADFLOW_PG_DSN"], pool_metadata, "/tests/flow", pool_size=2)
    prefix, bootstrap = settings_env["LEADFLOW_KAFKA_TOPIC_PREFIX"], settings_env["LEADFLOW_KAFKA_BOOTSTRAP"]
    try:
        async with in_process(assignment_service), in_process(pool_service):
            await publish_scored(settings_env, LeadScored(
                lead_id=lead_id, score=70, grade="B", stage="mql", rules_version="1",
                lead=LeadSnapshot(name="王先生", mobile="+8613900001111", source="website")))
            first = await eventually(lambda: _owned(db, lead_id, seq=1), timeout_s=120)
            assert first, "the lead was never owned"
            second = await eventually(lambda: _owned(db, lead_id, seq=2), timeout_s=120)
            assert second, await pool_row(db, lead_id)
            assert second["owner_id"] != first["owner_id"] and second["previous_owner_ids"] == [first["owner_id"]]
            assert second["workflow_id"] == f"ownership-{lead_id}-2"

            assigned = await records_of(bootstrap, f"{prefix}{LEADS_ASSIGNED.name}", lead_id, 2)
            events = [parse_event(r.value, LeadAssigned).data for r in assigned]  # type: ignore[attr-defined]
            assert [(e.owner_id, e.kind) for e in events] == [(first["owner_id"], "route"), (second["owner_id"], "reassign")]
            recycled = await records_of(bootstrap, f"{prefix}{LEADS_RECYCLED.name}", lead_id, 1)
            assert b"first_follow_up_overdue" in recycled[0].value  # type: ignore[attr-defined]
            assert await records_of(bootstrap, f"{prefix}{LEADS_DEADLINE_APPROACHING.name}", lead_id, 1)
    finally:
        async with db.uow() as uow:
            kinds = [k for (k,) in (await uow.session.execute(
                select(timeline.c.kind).where(timeline.c.lead_id == lead_id).order_by(timeline.c.id))).all()]
        await db.dispose()
    assert kinds[:4] == ["assigned", "reminder", "recycled", "assigned"], kinds


async def records_of(bootstrap: str, topic: str, lead_id: uuid.UUID, at_least: int) -> list[Any]:
    """The topic's records of this lead (keyed by it), once there are `at_least`: the test's topics may also carry
    what the session's earlier tests left in assignment's outbox, which its relay sends here."""
    async def mine() -> list[Any]:
        records = await read_topic(bootstrap, topic, until=10**9, timeout_s=3)
        found = [r for r in records if r.key == str(lead_id).encode()]  # type: ignore[attr-defined]
        return found if len(found) >= at_least else []

    return await eventually(mine, timeout_s=60)  # type: ignore[no-any-return]


async def _owned(db: Database, lead_id: uuid.UUID, seq: int) -> dict[str, Any] | None:
    row = await pool_row(db, lead_id)
    return row if row and row["status"] == "owned" and row["ownership_seq"] == seq else None



async def test_an_sdrs_qualification_reaches_scoring_and_hands_the_lead_to_sales(
    settings_env: dict[str, str], staff_token: Any
) -> None:
    """线索清洗: an SDR claims a raw lead from his pool, calls it and qualifies it with BANT answers; scoring makes it
    an MQL on them, assignment hands it to sales with the SDR credited, and pool gives the sales rep a new
    ownership (and ends the SDR's)."""
    from litestar.testing import AsyncTestClient

    from leadflow_pool.settings import PoolSettings
    from leadflow_scoring.app import service as scoring_service
    from leadflow_shared.contracts import LEADS_POOLED, LEADS_RECEIVED, LeadPooled, LeadReceived

    team = f"sdr-{uuid.uuid4().hex[:6]}"
    sdr, seller = f"{team}-sdr", f"{team}-sales"
    dsn = settings_env["LEADFLOW_PG_DSN"]
    assigner = Assigner(AssignmentSettings(pg_dsn=dsn))
    assignment_db = Database(dsn, assignment_service.metadata, "/tests/flow", pool_size=1)
    pool_db = Database(dsn, pool_metadata, "/tests/flow", pool_size=2)
    try:
        async with assignment_db.uow() as uow:
            await assigner.store_rules(uow, {}, "test")
            await uow.commit()
        async with assignment_db.uow() as uow:
            await assigner.store_org(uow, parse_organisation({
                "teams": [{"id": f"{team}-cleansing", "default_pool": f"{team}-raw"},
                          {"id": f"{team}-sales", "default_pool": f"{team}-sales-pool"}],
                "reps": [{"id": sdr, "team": f"{team}-cleansing"}, {"id": seller, "team": f"{team}-sales"}]}), "test")
            await uow.commit()
        async with assignment_db.uow() as uow:
            await assigner.store_rules(uow, {"rules": [{"id": "qualified-to-sales", "when": {"qualified": True},
                                                        "strategy": "round_robin", "team": f"{team}-sales"}]}, "test")
            await uow.commit()
        async with pool_db.uow() as uow:
            await store_pools(uow.session, parse_pools({"default_pool": f"{team}-raw", "pools": [
                {"id": f"{team}-raw", "claimers": {"roles": ["sdr"]}}, {"id": f"{team}-sales-pool"}]}), "test")
            await uow.commit()

        lead_id = uuid.uuid4()
        raw = LeadSnapshot(name="赵女士", mobile="+8613700002222", source="website")
        async with in_process(scoring_service), in_process(assignment_service), \
                AsyncTestClient(app=pool_service.create_app(PoolSettings())) as pool_api:
            await publish(settings_env, [
                (LEADS_RECEIVED, LeadReceived(lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created", lead=raw)),
                (LEADS_POOLED, LeadPooled(lead_id=lead_id, pool_id=f"{team}-raw", rule="raw", reason="to cleanse",
                                          pooled_at=datetime.now(UTC)))])
            nurtured = await eventually(lambda: _row_where(pool_db, lead_id, status="in_pool", stage="nurture"),
                                        timeout_s=120)
            assert nurtured, await pool_row(pool_db, lead_id)
            as_sdr = {"Authorization": staff_token(sdr, "sdr", teams=[f"{team}-cleansing"])}
            claimed = await pool_api.post(f"/v1/leads/{lead_id}/claim", headers=as_sdr)
            assert claimed.status_code == 200, claimed.text
            verdict = await pool_api.post(f"/v1/leads/{lead_id}/follow-ups", headers=as_sdr, json={
                "type": "call", "note": "预算已批，下季度上线", "outcome": "interested", "disposition": "qualified",
                "bant": {"budget": "预算50万", "authority": "IT 总监，决策人", "need": "替换现有CRM", "timeline": "3个月内"}})
            assert verdict.status_code == 201, verdict.text

            handed = await eventually(lambda: _row_where(pool_db, lead_id, owner_id=seller), timeout_s=120)
            assert handed, await pool_row(pool_db, lead_id)
            assert handed["qualified_by"] == sdr and handed["stage"] == "mql" and handed["ownership_seq"] == 2
            assert handed["previous_owner_ids"] == [sdr]
            assigned = await records_of(settings_env["LEADFLOW_KAFKA_BOOTSTRAP"],
                                        f"{settings_env['LEADFLOW_KAFKA_TOPIC_PREFIX']}{LEADS_ASSIGNED.name}", lead_id, 1)
            last = parse_event(assigned[-1].value, LeadAssigned).data  # type: ignore[attr-defined]
            assert (last.owner_id, last.kind, last.qualified_by) == (seller, "handoff", sdr)
    finally:
        await assignment_db.dispose()
        await pool_db.dispose()


async def _row_where(db: Database, lead_id: uuid.UUID, **wanted: Any) -> dict[str, Any] | None:
    row = await pool_row(db, lead_id)
    return row if row and all(row.get(k) == v for k, v in wanted.items()) else None


async def publish(env: dict[str, str], events: list[tuple[Any, Any]]) -> None:
    await ensure_topics(env["LEADFLOW_KAFKA_BOOTSTRAP"], prefix=env["LEADFLOW_KAFKA_TOPIC_PREFIX"],
                        partitions=int(env["LEADFLOW_KAFKA_TOPIC_PARTITIONS"]))
    producer = AIOKafkaProducer(bootstrap_servers=env["LEADFLOW_KAFKA_BOOTSTRAP"], acks="all")
    await producer.start()
    try:
        for topic, data in events:
            event = CloudEvent[Any](source="/tests", type=topic.event_type, subject=str(data.lead_id), data=data,
                                    dataschema=topic.schema_urn)
            await producer.send_and_wait(physical_topic(topic.name, env["LEADFLOW_KAFKA_TOPIC_PREFIX"]),
                                         event.model_dump_json().encode(), key=str(data.lead_id).encode())
    finally:
        await producer.stop()
