"""intake follows its leads through the other services, so partners can see their status."""

from __future__ import annotations

from typing import Any

from leadflow_intake.db import LeadRepository
from leadflow_intake.domain.model import LeadStatus, advance
from leadflow_shared.consumers import Subscription
from leadflow_shared.contracts import LEADS_ASSIGNED, LEADS_CONVERTED, LEADS_SCORED, Topic
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent


def _status_follower(reported: LeadStatus):  # type: ignore[no-untyped-def]
    async def follow(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        repo = LeadRepository(uow.session)
        current = await repo.status_for_update(event.data.lead_id)
        if current is None:
            return  # a lead another intake install received
        await repo.set_status(event.data.lead_id, advance(current, reported))

    return follow


def _follow(topic: Topic, reported: LeadStatus) -> Subscription:
    return Subscription(topic, _status_follower(reported))


subscriptions = [
    _follow(LEADS_SCORED, LeadStatus.scored),
    _follow(LEADS_ASSIGNED, LeadStatus.assigned),
    _follow(LEADS_CONVERTED, LeadStatus.converted),
]
