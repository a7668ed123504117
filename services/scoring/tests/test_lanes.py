"""A poll of activities split into lanes (concurrent transactions): everything that locks one lead goes in
one lane, an activity named only by a contact with the lead that owns the contact."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from leadflow_scoring import db as scoring_db
from leadflow_scoring.handlers import ScoringHandlers
from leadflow_scoring.registry import TableRegistry
from leadflow_shared.contracts import LEADS_ACTIVITY, LeadActivity
from leadflow_shared.db import Database
from leadflow_shared.events import CloudEvent
from leadflow_shared.service import Service


def _activity(lead_id: uuid.UUID | None = None, mobile: str | None = None) -> CloudEvent[LeadActivity]:
    data = LeadActivity(activity_id=uuid.uuid4(), lead_id=lead_id, mobile=mobile, type="page_view",
                        occurred_at=datetime.now(UTC))
    return CloudEvent[LeadActivity](source="/tests", type=LEADS_ACTIVITY.event_type,
                                    subject=str(lead_id or f"mobile:{mobile}"), data=data)


async def test_an_activity_named_by_contact_shares_the_lane_of_the_contacts_lead(
        leadflow_env: dict[str, str], migrated: dict[str, Service]) -> None:
    leads = {uuid.uuid4(): f"+86139{n:08d}" for n in range(20)}
    conn = await asyncpg.connect(leadflow_env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("INSERT INTO scoring.lead_contacts (key, lead_id) SELECT * FROM unnest($1::text[], $2::uuid[])",
                           [f"mobile:{m}" for m in leads.values()], list(leads))
    finally:
        await conn.close()
    by_id = [_activity(lead_id=i) for i in leads]
    by_mobile = [_activity(mobile=m.removeprefix("+86")) for m in leads.values()]
    strangers = [_activity(mobile=f"13700{n:06d}") for n in range(5)] + [_activity(lead_id=uuid.uuid4())]
    events: list[CloudEvent[Any]] = [*by_id, *by_mobile, *strangers]
    handlers = ScoringHandlers(lambda: None, TableRegistry())  # type: ignore[arg-type,return-value]
    database = Database(leadflow_env["LEADFLOW_PG_DSN"], scoring_db.metadata, "/tests")
    try:
        groups = await handlers.activity_lanes(database, events, 2)
        assert await handlers.activity_lanes(database, events, 1) == [events]
    finally:
        await database.dispose()
    assert len(groups) == 2
    assert sorted(e.id for g in groups for e in g) == sorted(e.id for e in events)
    lane_of = {e.id: n for n, group in enumerate(groups) for e in group}
    assert all(lane_of[a.id] == lane_of[b.id] for a, b in zip(by_id, by_mobile, strict=True)), \
        "an activity by mobile went to another lane than its lead's"
    for group in groups:
        assert [e.id for e in group] == [e.id for e in events if e.id in {g.id for g in group}]
