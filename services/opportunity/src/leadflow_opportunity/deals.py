"""Opportunities as they move (商机推进): stage changes validated by the pipeline, won with a contract, lost with
a managed reason, realized at their first payment (新签业绩以首次消费为准). Every change is kept (who, when,
from, to) and published with the opportunity's state, in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadflow_opportunity.db import OpportunityRepository
from leadflow_opportunity.domain.model import Actor, Refusal
from leadflow_opportunity.domain.pipeline import LOST, WON, check_move
from leadflow_opportunity.events import closed_event, opportunity_event
from leadflow_opportunity.pipelines import PipelineCatalogue
from leadflow_shared.contracts import OPPORTUNITIES, OPPORTUNITIES_CLOSED, PaymentReceived
from leadflow_shared.db import Database, UnitOfWork
from leadflow_shared.refusals import Refused


@dataclass(frozen=True)
class Move:
    to: str
    lost_reason: str | None = None
    contract_ref: str | None = None
    note: str | None = None


@dataclass
class Deals:
    db: Database
    pipelines: PipelineCatalogue

    async def move(self, opportunity_id: uuid.UUID, move: Move, actor: Actor) -> dict[str, Any]:
        async with self.db.uow() as uow:
            repo = OpportunityRepository(uow.session)
            row = await repo.for_update(opportunity_id)
            _may_work(row, actor)
            assert row is not None
            pipeline = await self.pipelines.current(uow.session)
            refusal = check_move(pipeline, row["stage"], row["status"], move.to, lost_reason=move.lost_reason,
                                 contract_ref=move.contract_ref)
            if refusal is not None:
                raise Refused(refusal)
            if move.to == WON and await repo.contract_taken(move.contract_ref or "", opportunity_id):
                raise Refused(Refusal(409, "contract_taken", f"contract {move.contract_ref} belongs to another "
                                      "opportunity", f"合同编号 {move.contract_ref} 已用于其他商机"))
            now = datetime.now(UTC)
            values = _moved(row, move, pipeline.probability(move.to), now)
            detail = {k: v for k, v in (("lost_reason", move.lost_reason), ("contract_ref", move.contract_ref),
                                        ("note", move.note)) if v}
            await repo.move(opportunity_id, values, {"from_stage": row["stage"], "to_stage": move.to, "by": actor.id,
                                                     "at": now, "detail": detail})
            from_stage = row["stage"]
            row.update(values)
            change = move.to if move.to in (WON, LOST) else "stage_changed"
            events: list[Any] = [(OPPORTUNITIES, row["lead_id"], opportunity_event(row, change, from_stage, actor.id, now))]
            if move.to in (WON, LOST):
                events.append((OPPORTUNITIES_CLOSED, row["lead_id"], closed_event(row, now)))
            await uow.publish_many(events)
            if move.to == WON:
                await self._realize_if_paid(uow, row, actor.id)
            await uow.commit()
        return row

    async def pay(self, payment: PaymentReceived, by: str) -> dict[str, Any]:
        """Record a payment (once, by billing's id); the first payment of a won deal realizes it. A payment that
        comes before the win is kept, and the win realizes the deal."""
        async with self.db.uow() as uow:
            row = await self.record_payment(uow, payment, by)
            await uow.commit()
        return row

    async def record_payment(self, uow: UnitOfWork, payment: PaymentReceived, by: str) -> dict[str, Any]:
        repo = OpportunityRepository(uow.session)
        row = await _paid_opportunity(repo, payment)  # locked: its payments are recorded one at a time
        new = await repo.add_payment({"payment_id": payment.payment_id, "opportunity_id": row["opportunity_id"],
                                      "amount": payment.amount, "currency": payment.currency,
                                      "received_at": payment.received_at, "recorded_by": by})
        if new and row["status"] == WON:
            await self._realize_if_paid(uow, row, by)
        return {**row, "payment_recorded": new}

    async def _realize_if_paid(self, uow: UnitOfWork, row: dict[str, Any], by: str) -> None:
        if row["realized_at"] is not None:
            return
        repo = OpportunityRepository(uow.session)
        paid = await repo.paid(row["opportunity_id"])
        if not paid:
            return
        # Credit is the deal's value, counted on the day money first came (or the win, if it came before).
        at = max(paid[0]["received_at"], row["won_at"])
        await repo.realize(row["opportunity_id"], at, row["amount"])
        row.update(realized_at=at, realized_amount=row["amount"])
        await uow.publish(OPPORTUNITIES, row["lead_id"], opportunity_event(row, "realized", None, by, at))


async def _paid_opportunity(repo: OpportunityRepository, payment: PaymentReceived) -> dict[str, Any]:
    row = None
    if payment.opportunity_id is not None:
        row = await repo.for_update(payment.opportunity_id)
    elif payment.contract_ref:
        row = await repo.by_contract_for_update(payment.contract_ref)
    if row is None:
        which = payment.opportunity_id or payment.contract_ref
        raise Refused(Refusal(404, "unknown_opportunity", f"no opportunity {which} for payment {payment.payment_id}",
                              f"付款 {payment.payment_id} 对应的商机 {which} 不存在"))
    return row


def _may_work(row: dict[str, Any] | None, actor: Actor) -> None:
    if row is None:
        raise Refused(Refusal(404, "unknown_opportunity", "no such opportunity", "商机不存在"))
    if row["owner_id"] != actor.id and not actor.manages(row["team_id"]):
        raise Refused(Refusal(403, "not_owner", "the opportunity is someone else's", "该商机由他人负责"))


def _moved(row: dict[str, Any], move: Move, probability: float, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"stage": move.to, "probability": probability, "stage_entered_at": now}
    if move.to == WON:
        values.update(status=WON, won_at=now, contract_ref=move.contract_ref.strip() if move.contract_ref else None)
    elif move.to == LOST:
        values.update(status=LOST, lost_at=now, lost_reason=move.lost_reason)
    return values
