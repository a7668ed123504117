"""opportunity keeps who works each lead: assigned and claimed leads gain an owner, transferred ones change
it, and pooled, queued, released and recycled ones lose it."""

from __future__ import annotations

from typing import Any

from leadflow_opportunity.bootstrap import Opportunity
from leadflow_opportunity.db import LeadOwnerRepository
from leadflow_opportunity.domain.model import ConversionStatus, status_for_owner
from leadflow_shared.consumers import Subscription
from leadflow_shared.contracts import (
    LEADS_ASSIGNED,
    LEADS_CLAIMED,
    LEADS_POOLED,
    LEADS_QUEUED,
    LEADS_RECYCLED,
    LEADS_RELEASED,
    LEADS_TRANSFERRED,
    LeadAssigned,
    LeadClaimed,
    LeadTransferred,
)
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent


async def on_lead_assigned(event: CloudEvent[LeadAssigned], uow: UnitOfWork) -> None:
    owner = event.data.owner_id
    await LeadOwnerRepository(uow.session).set_owner(event.data.lead_id, owner, status_for_owner(owner))


async def on_lead_claimed(event: CloudEvent[LeadClaimed], uow: UnitOfWork) -> None:
    owner = event.data.owner_id
    await LeadOwnerRepository(uow.session).set_owner(event.data.lead_id, owner, status_for_owner(owner))


async def on_lead_transferred(event: CloudEvent[LeadTransferred], uow: UnitOfWork) -> None:
    owner = event.data.to_owner_id
    await LeadOwnerRepository(uow.session).set_owner(event.data.lead_id, owner, status_for_owner(owner))


async def on_lead_unowned(event: CloudEvent[Any], uow: UnitOfWork) -> None:
    await LeadOwnerRepository(uow.session).set_owner(event.data.lead_id, None, ConversionStatus.unowned)


def subscriptions(opportunity: Opportunity) -> list[Subscription]:
    return [
        Subscription(LEADS_ASSIGNED, on_lead_assigned),
        Subscription(LEADS_CLAIMED, on_lead_claimed),
        Subscription(LEADS_TRANSFERRED, on_lead_transferred),
        *(Subscription(topic, on_lead_unowned)
          for topic in (LEADS_POOLED, LEADS_QUEUED, LEADS_RELEASED, LEADS_RECYCLED)),
    ]
