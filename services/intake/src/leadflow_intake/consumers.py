"""intake follows its leads through the other services (status and owner, for partners and 撞单提醒)
and keeps the customer master it links new leads to (customers.v1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from leadflow_intake.db import IntakeRepository, customer_contacts, customers
from leadflow_shared import normalize
from leadflow_intake.domain.model import LeadStatus, advance
from leadflow_shared.consumers import Subscription
from leadflow_shared.contacts import contact_keys
from leadflow_shared.contracts import (
    CUSTOMERS,
    LEADS_ASSIGNED,
    LEADS_CONVERTED,
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
    await uow.session.execute(insert(customers).values(id=customer.customer_id, **values)
                              .on_conflict_do_update(index_elements=["id"], set_=values))
    await uow.session.execute(delete(customer_contacts).where(customer_contacts.c.customer_id == customer.customer_id))
    keys = _contact_keys(customer)
    if keys:
        await uow.session.execute(insert(customer_contacts).values(
            [{"key": k, "customer_id": customer.customer_id} for k in keys]).on_conflict_do_nothing())


def _contact_keys(customer: CustomerChanged) -> tuple[str, ...]:
    # An unusable contact in the customer master gives no key: it just won't match.
    return contact_keys(mobiles=customer.mobiles, emails=customer.emails)


subscriptions = [
    _follow(LEADS_SCORED, LeadStatus.scored),
    _follow(LEADS_ASSIGNED, LeadStatus.assigned),
    _follow(LEADS_CONVERTED, LeadStatus.converted),
    Subscription(LEADS_RECYCLED, on_lead_recycled),
    Subscription(CUSTOMERS, on_customer_changed),
]
