"""intake follows its leads through the other services (status and owner, for partners and 撞单提醒)
and keeps the customer master it links new leads to (customers.v1)."""

from __future__ import annotations

from typing import Any

from leadflow_intake.bootstrap import Intake
from leadflow_intake.db import CustomerRepository, IntakeRepository
from leadflow_shared import normalize
from leadflow_intake.domain.model import LeadStatus, advance
from leadflow_shared.consumers import Subscription
from leadflow_shared.contacts import contact_keys
from leadflow_shared.contracts import (
    CUSTOMERS,
    LEADS_ASSIGNED,
    LEADS_CONVERTED,
    LEADS_POOLED,
    LEADS_QUEUED,
    LEADS_RECYCLED,
    LEADS_SCORED,
    CustomerChanged,
    LeadAssigned,
    LeadRecycled,
    Topic,
)
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent


def _status_follower(reported: LeadStatus):  # type: ignore[no-untyped-def]
    async def follow(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        repo = IntakeRepository(uow.session)
        current = await repo.status_for_update(event.data.lead_id)
        if current is None:
            return  # a lead another intake install received
        values: dict[str, Any] = {}
        if isinstance(event.data, LeadAssigned):
            values["owner_id"] = event.data.owner_id  # who is warned when the person comes again
        await repo.set_status(event.data.lead_id, advance(current, reported), **values)

    return follow


def _follow(topic: Topic, reported: LeadStatus) -> Subscription:
    return Subscription(topic, _status_follower(reported))


async def on_lead_recycled(event: CloudEvent[LeadRecycled], uow: UnitOfWork) -> None:
    await IntakeRepository(uow.session).set_owner(event.data.lead_id, None)


async def on_customer_changed(event: CloudEvent[CustomerChanged], uow: UnitOfWork) -> None:
    """Keep the customer, its name's normal form and its contacts, for linking new leads."""
    customer = event.data
    name = normalize.company_name(customer.name)
    values = dict(name=customer.name, core=name.core, region=name.region, credit_code=customer.credit_code,
                  owner_id=customer.owner_id)
    await CustomerRepository(uow.session).put(customer.customer_id, values, _contact_keys(customer))


def _contact_keys(customer: CustomerChanged) -> tuple[str, ...]:
    # An unusable contact in the customer master gives no key: it just won't match.
    return contact_keys(mobiles=customer.mobiles, emails=customer.emails)


def subscriptions(intake: Intake) -> list[Subscription]:
    return [
        _follow(LEADS_SCORED, LeadStatus.scored),
        _follow(LEADS_ASSIGNED, LeadStatus.assigned),
        # `assigned` tells a partner the lead was routed: to a rep, a manager's queue or a pool.
        _follow(LEADS_POOLED, LeadStatus.assigned),
        _follow(LEADS_QUEUED, LeadStatus.assigned),
        _follow(LEADS_CONVERTED, LeadStatus.converted),
        Subscription(LEADS_RECYCLED, on_lead_recycled),
        Subscription(CUSTOMERS, on_customer_changed),
    ]
