"""assignment routes each scored lead once and publishes leads.assigned.v1."""

from __future__ import annotations

from datetime import UTC, datetime

from leadflow_assignment.bootstrap import Assignment
from leadflow_assignment.db import AssignmentRepository
from leadflow_assignment.domain.routing import route
from leadflow_shared.consumers import Subscription
from leadflow_shared.contracts import LEADS_ASSIGNED, LEADS_SCORED, LeadAssigned, LeadScored
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent


def subscriptions(assignment: Assignment) -> list[Subscription]:
    settings = assignment.settings

    async def on_lead_scored(event: CloudEvent[LeadScored], uow: UnitOfWork) -> None:
        scored = event.data
        referrer = scored.lead.referrer if scored.lead else None
        decision = route(referrer, default_pool=settings.default_pool)
        if not await AssignmentRepository(uow.session).record(scored.lead_id, decision):
            return  # re-scores do not re-route
        await uow.publish(
            LEADS_ASSIGNED,
            scored.lead_id,
            LeadAssigned(
                lead_id=scored.lead_id, owner_id=decision.owner_id, pool_id=decision.pool_id, rule=decision.rule,
                reason=decision.reason, assigned_at=datetime.now(UTC),
            ),
        )

    return [Subscription(LEADS_SCORED, on_lead_scored)]
