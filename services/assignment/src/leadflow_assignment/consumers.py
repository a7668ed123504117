"""assignment's subscriptions: scored leads are routed (a batch a transaction), recycled ones decided again,
and every ownership change decided elsewhere keeps the reps' open leads true."""

from __future__ import annotations

from typing import Any

from leadflow_assignment.bootstrap import Assignment
from leadflow_shared.consumers import AnySubscription, BatchSubscription, Subscription
from leadflow_shared.contracts import (
    CUSTOMERS,
    LEADS_CLAIMED,
    LEADS_CONVERTED,
    LEADS_DISPOSITIONED,
    LEADS_RECEIVED,
    LEADS_RECYCLED,
    LEADS_RELEASED,
    LEADS_SCORED,
    LEADS_TRANSFERRED,
    OPPORTUNITIES_CLOSED,
    CustomerChanged,
    LeadClaimed,
    LeadConverted,
    LeadReleased,
    LeadTransferred,
    OpportunityClosed,
)
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent


def subscriptions(assignment: Assignment) -> list[AnySubscription]:
    assigner = assignment.assigner
    batch = assignment.settings.route_batch_size

    async def on_scored(events: list[CloudEvent[Any]], uow: UnitOfWork) -> None:
        await assigner.on_scored([e.data for e in events], uow)

    async def on_received(events: list[CloudEvent[Any]], uow: UnitOfWork) -> None:
        await assigner.on_received([e.data for e in events], uow)

    async def on_recycled(events: list[CloudEvent[Any]], uow: UnitOfWork) -> None:
        await assigner.on_recycled([e.data for e in events], uow)

    async def on_dispositioned(events: list[CloudEvent[Any]], uow: UnitOfWork) -> None:
        await assigner.on_dispositioned([e.data for e in events], uow)

    async def on_claimed(event: CloudEvent[LeadClaimed], uow: UnitOfWork) -> None:
        await assigner.ownership_changed(uow, event.data.lead_id, owner=event.data.owner_id)

    async def on_released(event: CloudEvent[LeadReleased], uow: UnitOfWork) -> None:
        await assigner.ownership_changed(uow, event.data.lead_id, owner=None, pool_id=event.data.pool_id)

    async def on_transferred(event: CloudEvent[LeadTransferred], uow: UnitOfWork) -> None:
        moved = event.data
        await assigner.ownership_changed(uow, moved.lead_id, owner=moved.to_owner_id, pool_id=moved.to_pool_id)

    async def on_converted(event: CloudEvent[LeadConverted], uow: UnitOfWork) -> None:
        await assigner.ownership_changed(uow, event.data.lead_id, owner=None, converted_by=event.data.owner_id or "")

    async def on_closed(event: CloudEvent[OpportunityClosed], uow: UnitOfWork) -> None:
        if event.data.outcome == "won" and event.data.lead_id:  # a win is a conversion, if none was told
            await assigner.ownership_changed(uow, event.data.lead_id, owner=None, converted_by="")

    async def on_customer(event: CloudEvent[CustomerChanged], uow: UnitOfWork) -> None:
        await assigner.customer_owner(uow, event.data.customer_id, event.data.owner_id)

    return [
        BatchSubscription(LEADS_SCORED, on_scored, max_records=batch),
        BatchSubscription(LEADS_RECEIVED, on_received, max_records=batch),
        BatchSubscription(LEADS_RECYCLED, on_recycled, max_records=100),
        BatchSubscription(LEADS_DISPOSITIONED, on_dispositioned, max_records=batch),
        Subscription(LEADS_CLAIMED, on_claimed),
        Subscription(LEADS_RELEASED, on_released),
        Subscription(LEADS_TRANSFERRED, on_transferred),
        Subscription(LEADS_CONVERTED, on_converted),
        Subscription(OPPORTUNITIES_CLOSED, on_closed),
        Subscription(CUSTOMERS, on_customer),
    ]
