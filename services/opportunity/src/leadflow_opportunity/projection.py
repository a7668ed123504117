"""The reporting projection (销售漏斗): every service's events about a lead, folded into its funnel row and the
sums of its cohort, a batch of facts a transaction (domain/funnel.py says how)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from leadflow_opportunity.db import ProjectionRepository
from leadflow_opportunity.domain.funnel import Fact, apply, deltas
from leadflow_shared.db import UnitOfWork, lock_keys


@dataclass
class Projection:
    timezone: ZoneInfo

    def day(self, at: datetime) -> date:
        return at.astimezone(self.timezone).date()

    @staticmethod
    async def lock_leads(uow: UnitOfWork, lead_ids: Sequence[Any]) -> None:
        """Two topics' batches may touch one lead: the second waits, then reads what the first wrote. Taken
        before any write, in one order, so batches never deadlock."""
        await lock_keys(uow.session, [f"lead:{i}" for i in lead_ids])

    async def apply(self, uow: UnitOfWork, facts: Sequence[Fact]) -> None:
        if not facts:
            return
        ids = sorted({f.lead_id for f in facts})  # the caller holds their locks (lock_leads)
        repo = ProjectionRepository(uow.session)
        before = await repo.for_update(ids)
        after: dict[Any, dict[str, Any]] = {}
        for fact in sorted(facts, key=lambda f: f.at):
            after[fact.lead_id] = apply(after.get(fact.lead_id) or before.get(fact.lead_id) or {"lead_id": fact.lead_id},
                                        fact)
        changed = {i: row for i, row in after.items() if row != before.get(i)}
        await repo.put(list(changed.values()))
        await repo.add_to_cohorts(deltas((before.get(i), row) for i, row in changed.items()))
