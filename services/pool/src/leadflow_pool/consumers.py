"""pool's subscriptions: its read model of every lead (from intake and scoring), ownership decided by assignment
and opportunity, and its own ownership events, whose consumer starts and ends the ownership workflows on
Temporal (so that an ownership committed while Temporal was away still gets its deadlines: the event waits)."""

from __future__ import annotations

import asyncio
from typing import Any

from leadflow_pool.bootstrap import Pool
from leadflow_pool.db import PoolRepository, record_many, upsert_read_model
from leadflow_pool.domain.model import PoolStatus, ownership_workflow_id
from leadflow_pool.ownership import Change, Ownership, terms_of
from leadflow_shared.consumers import AnySubscription, BatchSubscription, split_lanes
from leadflow_shared.contracts import (
    LEADS_ASSIGNED,
    LEADS_CLAIMED,
    LEADS_CONVERTED,
    LEADS_DUPLICATE_DETECTED,
    LEADS_POOLED,
    LEADS_RECEIVED,
    LEADS_RELEASED,
    LEADS_SCORED,
    LEADS_TRANSFERRED,
    LeadAssigned,
    LeadClaimed,
    DuplicateDetected,
    LeadConverted,
    LeadPooled,
    LeadReceived,
    LeadReleased,
    LeadScored,
    LeadTransferred,
)
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent


def received_row(event: LeadReceived, home_pool: str, at: Any) -> dict[str, Any]:
    lead = event.lead
    consent = lead.consent or {}
    custom = lead.custom or {}
    return {
        "lead_id": event.lead_id, "pool_id": home_pool, "name": lead.name, "mobile": lead.mobile,
        "wechat": lead.wechat, "email": lead.email, "company_name": lead.company_name, "province": lead.province,
        "city": lead.city, "industry": lead.industry, "source": str(lead.source), "partner_id": event.partner_id,
        "customer_level": custom.get("customer_level"), "received_at": at,
        # 勿扰: a lead who refused marketing contact is never offered for reactivation
        "do_not_contact": consent.get("marketing") is False or consent.get("contact") is False,
    }


# A claimed lead's clock may start a quarter second late (its deadlines are days away); the Temporal server
# takes a dozen starts at once for little more than one.
OWN_CHANGES_LINGER_MS = 250


def duplicate_entry(event: CloudEvent[DuplicateDetected]) -> dict[str, Any]:
    """A duplicate warning's timeline entry (the submission's time; the owner it collided with)."""
    d = event.data
    return {"lead_id": d.lead_id, "kind": "duplicate", "at": event.time, "owner_id": d.current_owner_id,
            "detail": {"matched_on": d.matched_on, "partner_id": d.partner_id, "submission_id": str(d.submission_id)}}


def subscriptions(pool: Pool) -> list[AnySubscription]:
    ownership = Ownership(pool)
    temporal = pool.temporal

    async def apply(changes: list[Change | None], uow: UnitOfWork, reason: str = "reassigned") -> None:
        """A batch's ownership changes on Temporal before its transaction commits (a failure leaves the events
        to be retried, never an ownership without a clock): the ownerships they ended stopped, and each lead's
        latest, if it is held, started (idempotent: the workflow id is the ownership's), all at once: the
        server takes parallel calls far more cheaply than one after another."""
        made = [change for change in changes if change is not None]
        await end_all([c.ended_workflow for c in made if c.ended_workflow], reason)
        latest = {change.lead["lead_id"]: change.lead for change in made}
        held = [lead for lead in latest.values() if lead["status"] == PoolStatus.owned]
        if held:
            document = await ownership.document(uow)
            await asyncio.gather(*(temporal.start_ownership(terms_of(lead, ownership.remind_before_s(
                document, lead["pool_id"]))) for lead in held))

    async def by_lead(events: list[CloudEvent[Any]]) -> list[list[CloudEvent[Any]]]:
        """A lead's events in one lane, in order; other leads' in other transactions at the same time."""
        return split_lanes(events, lambda e: str(e.data.lead_id), pool.settings.pool_lanes)

    async def on_received(events: list[CloudEvent[Any]], uow: UnitOfWork) -> None:
        document = await ownership.document(uow)
        rows = []
        for event in events:
            row = received_row(event.data, "", event.time)
            row["pool_id"] = document.home_pool(row)
            rows.append(row)
        await upsert_read_model(uow.session, rows)

    async def on_scored(events: list[CloudEvent[Any]], uow: UnitOfWork) -> None:
        document = await ownership.document(uow)
        rows = []
        for event in events:
            scored: LeadScored = event.data
            row = {"lead_id": scored.lead_id, "grade": scored.grade, "score": scored.score, "stage": scored.stage}
            row["pool_id"] = document.home_pool(row)
            rows.append(row)
        await upsert_read_model(uow.session, rows)

    async def on_assigned(events: list[CloudEvent[LeadAssigned]], uow: UnitOfWork) -> None:
        changes: list[Change | None] = []
        for event in events:
            assigned = event.data
            if assigned.owner_id:
                changes.append(await ownership.assigned(uow, assigned))
            elif assigned.pool_id:  # old producers put pool routes here too; those are leads.pooled.v1 now
                changes.append(await ownership.pooled(uow, LeadPooled(
                    lead_id=assigned.lead_id, pool_id=assigned.pool_id, team_id=assigned.team_id,
                    rule=assigned.rule, reason=assigned.reason or "", pooled_at=assigned.assigned_at)))
        await apply(changes, uow)

    async def on_pooled(events: list[CloudEvent[LeadPooled]], uow: UnitOfWork) -> None:
        await apply([await ownership.pooled(uow, event.data) for event in events], uow)

    async def on_converted(events: list[CloudEvent[LeadConverted]], uow: UnitOfWork) -> None:
        await apply([await ownership.converted(uow, event.data) for event in events], uow, "converted")

    async def start_current(uow: UnitOfWork, changes: list[tuple[Any, int | None]]) -> None:
        """pool's own claims and transfers: each ownership they began gets its workflow if it is still current
        (a later change starts its own), all of a batch's at once: the server takes parallel starts far more
        cheaply than one after another."""
        rows = await PoolRepository(uow.session).get_many([lead_id for lead_id, _ in changes])
        document = await ownership.document(uow)
        current = {}
        for lead_id, seq in changes:
            row = rows.get(lead_id)
            if row and row["status"] == PoolStatus.owned and (seq is None or row["ownership_seq"] == seq):
                current[row["workflow_id"]] = terms_of(row, ownership.remind_before_s(document, row["pool_id"]))
        await asyncio.gather(*(temporal.start_ownership(terms) for terms in current.values()))

    async def end_all(workflow_ids: list[str], reason: str) -> None:
        await asyncio.gather(*(temporal.end_ownership(w, reason) for w in dict.fromkeys(workflow_ids)))

    async def on_claimed(events: list[CloudEvent[LeadClaimed]], uow: UnitOfWork) -> None:
        await start_current(uow, [(e.data.lead_id, e.data.ownership_seq) for e in events])

    async def on_transferred(events: list[CloudEvent[LeadTransferred]], uow: UnitOfWork) -> None:
        moves = [e.data for e in events]
        await end_all([ownership_workflow_id(str(m.lead_id), m.ownership_seq - 1 if m.to_owner_id else m.ownership_seq)
                       for m in moves if m.from_owner_id and m.ownership_seq is not None], "transferred")
        await start_current(uow, [(m.lead_id, m.ownership_seq) for m in moves if m.to_owner_id])

    async def on_released(events: list[CloudEvent[LeadReleased]], uow: UnitOfWork) -> None:
        await end_all([ownership_workflow_id(str(e.data.lead_id), e.data.ownership_seq) for e in events
                       if e.data.ownership_seq is not None], "released")

    async def on_duplicate(events: list[CloudEvent[DuplicateDetected]], uow: UnitOfWork) -> None:
        """撞单提醒 on the lead's timeline: who submitted it again, matched on what, while whose it was."""
        await record_many(uow.session, [duplicate_entry(e) for e in events])

    return [
        BatchSubscription(LEADS_RECEIVED, on_received, max_records=1000),
        BatchSubscription(LEADS_DUPLICATE_DETECTED, on_duplicate, max_records=500),
        BatchSubscription(LEADS_SCORED, on_scored, max_records=1000),
        # a workflow start each: a batch per transaction in lanes by lead, the starts in parallel
        BatchSubscription(LEADS_ASSIGNED, on_assigned, max_records=500, lanes=by_lead),
        BatchSubscription(LEADS_POOLED, on_pooled, max_records=500, lanes=by_lead),
        BatchSubscription(LEADS_CONVERTED, on_converted, max_records=500, lanes=by_lead),
        # a workflow start or signal each: parallel in fuller batches costs the server far less per call
        BatchSubscription(LEADS_CLAIMED, on_claimed, max_records=200, linger_ms=OWN_CHANGES_LINGER_MS),
        BatchSubscription(LEADS_TRANSFERRED, on_transferred, max_records=200, linger_ms=OWN_CHANGES_LINGER_MS),
        BatchSubscription(LEADS_RELEASED, on_released, max_records=200, linger_ms=OWN_CHANGES_LINGER_MS),
    ]

