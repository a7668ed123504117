"""opportunity's subscriptions. Every lead event keeps two things true in one transaction: what opportunity
knows of the lead (its owner and team, its facts, whether it is MQL: what conversion needs), and the funnel
projection the reports read. Payments from billing realize won deals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from leadflow_opportunity.bootstrap import Opportunity
from leadflow_opportunity.db import LeadRepository
from leadflow_opportunity.domain.funnel import Fact
from leadflow_opportunity.domain.model import status_for_owner
from leadflow_shared.consumers import AnySubscription, BatchSubscription, Subscription
from leadflow_shared.contracts import (
    LEADS_ACCEPTED, LEADS_ASSIGNED, LEADS_CLAIMED, LEADS_CONVERTED, LEADS_POOLED, LEADS_QUEUED, LEADS_RECEIVED,
    LEADS_RECYCLED, LEADS_RELEASED, LEADS_SCORED, LEADS_TRANSFERRED, OPPORTUNITIES, PAYMENTS_RECEIVED, Topic,
)
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent

Events = list[CloudEvent[Any]]
Learn = Callable[[Events, UnitOfWork], Awaitable[None]]


def subscriptions(opportunity: Opportunity) -> list[AnySubscription]:
    projection = opportunity.projection
    size = opportunity.settings.projection_batch_size

    def batch(topic: Topic, learn: Learn, facts: Callable[[CloudEvent[Any]], list[Fact]]) -> BatchSubscription:
        async def handle(events: Events, uow: UnitOfWork) -> None:
            await projection.lock_leads(uow, [e.data.lead_id for e in events])
            await learn(events, uow)
            await projection.apply(uow, [f for e in events for f in facts(e)])
        return BatchSubscription(topic, handle, max_records=size)

    async def on_received(events: Events, uow: UnitOfWork) -> None:
        await LeadRepository(uow.session).received([{
            "lead_id": e.data.lead_id, "snapshot": e.data.lead.model_dump(mode="json", exclude_none=True),
            "source": str(e.data.lead.source), "partner_id": e.data.partner_id, "customer_id": e.data.customer_id,
            "received_at": e.time} for e in events])

    def received_facts(event: CloudEvent[Any]) -> list[Fact]:
        d = event.data
        return [Fact(d.lead_id, "received", event.time, day=projection.day(event.time), source=str(d.lead.source),
                     partner_id=d.partner_id)]

    async def on_scored(events: Events, uow: UnitOfWork) -> None:
        await LeadRepository(uow.session).qualified([(e.data.lead_id, e.time) for e in events if e.data.stage == "mql"])

    def scored_facts(event: CloudEvent[Any]) -> list[Fact]:
        return [Fact(event.data.lead_id, "mql", event.time)] if event.data.stage == "mql" else []

    def ownership(owner: Callable[[Any], str | None], at: str) -> tuple[Learn, Callable[[CloudEvent[Any]], list[Fact]]]:
        """How an ownership event (assigned, claimed, transferred, pooled...) teaches the lead and the funnel."""
        def row(d: Any) -> dict[str, Any]:
            who = owner(d)
            return {"lead_id": d.lead_id, "owner_id": who, "status": status_for_owner(who), "owner_at": getattr(d, at),
                    "team_id": getattr(d, "team_id", None), "qualified_by": getattr(d, "qualified_by", None)}

        async def learn(events: Events, uow: UnitOfWork) -> None:
            await LeadRepository(uow.session).set_owners([row(e.data) for e in events])

        def facts(event: CloudEvent[Any]) -> list[Fact]:
            d = event.data
            return [Fact(d.lead_id, "owner", getattr(d, at), owner_id=owner(d), team_id=getattr(d, "team_id", None))]

        return learn, facts

    async def nothing(events: Events, uow: UnitOfWork) -> None:
        return None  # opportunity's own event: the lead's state changed with it already

    def accepted_facts(event: CloudEvent[Any]) -> list[Fact]:
        return [Fact(event.data.lead_id, "sql", event.data.accepted_at)]

    def converted_facts(event: CloudEvent[Any]) -> list[Fact]:
        d = event.data
        return [Fact(d.lead_id, "opportunities", d.converted_at, owner_id=d.owner_id, team_id=d.team_id)]

    def opportunity_facts(event: CloudEvent[Any]) -> list[Fact]:
        d = event.data
        if d.change == "won":
            return [Fact(d.lead_id, "won", d.at, amount=d.amount)]
        if d.change == "realized":
            return [Fact(d.lead_id, "realized", d.at, amount=d.realized_amount)]
        return []

    async def on_payment(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        await opportunity.deals.record_payment(uow, event.data, "billing")

    return [
        batch(LEADS_RECEIVED, on_received, received_facts),
        batch(LEADS_SCORED, on_scored, scored_facts),
        batch(LEADS_ASSIGNED, *ownership(lambda d: d.owner_id, "assigned_at")),
        batch(LEADS_CLAIMED, *ownership(lambda d: d.owner_id, "claimed_at")),
        batch(LEADS_TRANSFERRED, *ownership(lambda d: d.to_owner_id, "transferred_at")),
        batch(LEADS_POOLED, *ownership(lambda d: None, "pooled_at")),
        batch(LEADS_QUEUED, *ownership(lambda d: None, "queued_at")),
        batch(LEADS_RELEASED, *ownership(lambda d: None, "released_at")),
        batch(LEADS_RECYCLED, *ownership(lambda d: None, "recycled_at")),
        batch(LEADS_ACCEPTED, nothing, accepted_facts),
        batch(LEADS_CONVERTED, nothing, converted_facts),
        batch(OPPORTUNITIES, nothing, opportunity_facts),
        Subscription(PAYMENTS_RECEIVED, on_payment),
    ]
