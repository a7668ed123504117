"""opportunity keeps who works each lead: assigned leads gain an owner, recycled ones lose it."""

from __future__ import annotations

from leadflow_opportunity.bootstrap import Opportunity
from leadflow_opportunity.db import LeadOwnerRepository
from leadflow_opportunity.domain.model import ConversionStatus, status_for_owner
from leadflow_shared.consumers import Subscription
from leadflow_shared.contracts import LEADS_ASSIGNED, LEADS_RECYCLED, LeadAssigned, LeadRecycled
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent


async def on_lead_assigned(event: CloudEvent[LeadAssigned], uow: UnitOfWork) -> None:
    owner = event.data.owner_id
    await LeadOwnerRepository(uow.session).set_owner(event.data.lead_id, owner, status_for_owner(owner))


async def on_lead_recycled(event: CloudEvent[LeadRecycled], uow: UnitOfWork) -> None:
    await LeadOwnerRepository(uow.session).set_owner(event.data.lead_id, None, ConversionStatus.unowned)


def subscriptions(opportunity: Opportunity) -> list[Subscription]:
    return [
        Subscription(LEADS_ASSIGNED, on_lead_assigned),
        Subscription(LEADS_RECYCLED, on_lead_recycled),
    ]
