"""A batch's rows go to Postgres as one statement (shared.db.rows_statement): the same lead twice in a batch is
applied in order, as one statement per row would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from leadflow_opportunity.db import LeadRepository, ProjectionRepository
from leadflow_opportunity.domain.funnel import CohortKey
from leadflow_opportunity.tables import funnel_cohorts, leads
from leadflow_shared.db import Database


async def test_a_lead_twice_in_a_batch_is_applied_in_order(db: Database) -> None:
    lead_id, at = uuid.uuid4(), datetime(2026, 12, 1, 9, tzinfo=UTC)
    async with db.uow() as uow:
        repo = LeadRepository(uow.session)
        await repo.received([
            {"lead_id": lead_id, "snapshot": {"name": "王一"}, "source": "web_form", "partner_id": None,
             "customer_id": None, "received_at": at},
            {"lead_id": lead_id, "snapshot": {"name": "王一", "city": "杭州"}, "source": "web_form",
             "partner_id": "p-1", "customer_id": None, "received_at": at + timedelta(hours=1)},
        ])
        await repo.set_owners([
            {"lead_id": lead_id, "owner_id": "rep-2", "status": "owned", "owner_at": at + timedelta(hours=2),
             "team_id": "t-1", "qualified_by": None},
            {"lead_id": lead_id, "owner_id": "rep-1", "status": "owned", "owner_at": at + timedelta(hours=1),
             "team_id": "t-1", "qualified_by": "sdr-1"},  # an older ownership told late: changes nothing
        ])
        await repo.qualified([(lead_id, at + timedelta(hours=3)), (lead_id, at + timedelta(hours=1))])
        await uow.commit()
    async with db.uow() as uow:
        row = (await uow.session.execute(select(leads).where(leads.c.lead_id == lead_id))).mappings().one()
    assert row["snapshot"] == {"name": "王一", "city": "杭州"}  # the newest snapshot
    assert row["received_at"] == at  # the first receipt's time
    assert row["partner_id"] == "p-1"
    assert (row["owner_id"], row["owner_at"], row["qualified_by"]) == ("rep-2", at + timedelta(hours=2), "sdr-1")
    assert row["mql_at"] == at + timedelta(hours=1)  # the first time stays


async def test_cohort_deltas_add_up_as_integers(db: Database) -> None:
    partner = f"p-{uuid.uuid4().hex[:8]}"
    key = CohortKey(day=datetime(2026, 12, 1).date(), source="web_form", partner_id=partner, owner_id="rep-1",
                    team_id="t-1")
    for delta in ((1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), (2.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)):
        async with db.uow() as uow:
            await ProjectionRepository(uow.session).add_to_cohorts({key: delta})
            await uow.commit()
    async with db.uow() as uow:
        row = (await uow.session.execute(select(funnel_cohorts).where(funnel_cohorts.c.partner_id == partner))
               ).mappings().one()
    assert (row["leads"], row["mql"], row["sql"]) == (3, 1, 1)
