"""Sales accepting a lead (SQL) and converting it into customer + contact + opportunity (线索转商机), each in
one transaction with the events it causes (outbox)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadflow_opportunity import tables
from leadflow_opportunity.db import CustomerRepository, LeadRepository, OpportunityRepository
from leadflow_opportunity.domain.conversion import (
    ConvertRequest, CustomerKind, customer_identity, contact_of, filled, same_contact,
)
from leadflow_opportunity.domain.model import Actor, Refusal, check_accept, check_convert
from leadflow_opportunity.domain.pipeline import Pipeline
from leadflow_opportunity.events import customer_event, opportunity_event
from leadflow_opportunity.pipelines import PipelineCatalogue
from leadflow_shared.contracts import CUSTOMERS, LEADS_ACCEPTED, LEADS_CONVERTED, OPPORTUNITIES, LeadAccepted, LeadConverted
from leadflow_shared.db import Database, UnitOfWork, lock_keys
from leadflow_shared.refusals import Refused


@dataclass
class Conversions:
    db: Database
    pipelines: PipelineCatalogue
    customer_kind: CustomerKind

    async def accept(self, lead_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
        async with self.db.uow() as uow:
            repo = LeadRepository(uow.session)
            lead = await repo.for_update(lead_id)
            if (refusal := check_accept(lead, actor)) is not None:
                raise Refused(refusal)
            assert lead is not None
            now = datetime.now(UTC)
            await repo.update(lead_id, accepted_at=now, accepted_by=actor.id)
            override = actor.id != lead["owner_id"]
            await uow.publish(LEADS_ACCEPTED, lead_id, LeadAccepted(
                lead_id=lead_id, owner_id=lead["owner_id"], accepted_by=actor.id, override=override,
                team_id=lead["team_id"], accepted_at=now))
            await uow.commit()
        return {"lead_id": lead_id, "accepted_at": now, "accepted_by": actor.id, "override": override}

    async def convert(self, lead_id: uuid.UUID, request: ConvertRequest, actor: Actor) -> dict[str, Any]:
        async with self.db.uow() as uow:
            lead = await LeadRepository(uow.session).for_update(lead_id)
            if lead is not None and lead["converted"]:
                done = await OpportunityRepository(uow.session).conversion(lead_id)
                assert done is not None  # the lead's row was read joined to it
                raise Refused(Refusal(409, "converted", "the lead has converted already: this is its result",
                                      "该线索已转化，以下为已有的转化结果"), _result(done))
            if (refusal := check_convert(lead, actor)) is not None:
                raise Refused(refusal)
            assert lead is not None
            pipeline = await self.pipelines.at(uow.session, lead["pipeline_version"])
            result = await self._convert(uow, lead, request, actor, pipeline)
            await uow.commit()
        return result

    async def _convert(self, uow: UnitOfWork, lead: dict[str, Any], request: ConvertRequest, actor: Actor,
                       pipeline: Pipeline) -> dict[str, Any]:
        """Four round trips: lock the customer's keys, find it with its contacts, insert every row and event,
        mark the lead converted."""
        snapshot = lead["snapshot"] or {}
        stage = request.opportunity.stage or pipeline.first.id
        if pipeline.stage(stage) is None:
            known_stages = ", ".join(s.id for s in pipeline.stages)
            raise Refused(Refusal(422, "unknown_stage", f"opportunity.stage: no open stage {stage!r}; stages: "
                                  f"{known_stages}", f"商机阶段 {stage!r} 不存在；可选：{known_stages}"))
        identity = _or_refuse(customer_identity(self.customer_kind, request.customer, snapshot))
        contact = _or_refuse(contact_of(request.contact, snapshot))
        customers = CustomerRepository(uow.session)
        await lock_keys(uow.session, identity.lock_keys())  # two conversions of one new customer make one
        customer = await customers.find(identity, lead["customer_id"])
        merged = customer is not None
        rows: list[tuple[Any, list[dict[str, Any]]]] = []
        if customer is None:
            customer, known = CustomerRepository.new(identity, lead["owner_id"], lead["lead_id"]), []
            rows.append((tables.customers, [customer]))
        else:
            known = customer.pop("contacts")
            await customers.complete(customer, identity)
        customer_id = customer["customer_id"]
        match = same_contact(known, contact)
        if match is None:
            contact_id = uuid.uuid4()
            rows.append((tables.contacts, [{"contact_id": contact_id, "customer_id": customer_id, **contact.values()}]))
            known.append({"contact_id": contact_id, **contact.values()})
        else:
            contact_id = match["contact_id"]
            await customers.fill_contact(contact_id, filled(match, contact))
        now = datetime.now(UTC)
        opportunity = _opportunity(lead, request, customer_id, contact_id, stage, pipeline, actor, now)
        conversion = {"lead_id": lead["lead_id"], "customer_id": customer_id, "contact_id": contact_id,
                      "opportunity_id": opportunity["opportunity_id"], "merged": merged,
                      "override": lead["accepted_at"] is None, "converted_by": actor.id, "converted_at": now}
        first_stage = {"opportunity_id": opportunity["opportunity_id"], "from_stage": None, "to_stage": stage,
                       "by": actor.id, "at": now, "detail": {"converted_from": str(lead["lead_id"])}}
        events = uow.event_rows([
            (CUSTOMERS, customer_id, customer_event(customer, known, "merged" if merged else "created",
                                                    lead["lead_id"], now)),
            (LEADS_CONVERTED, lead["lead_id"], LeadConverted(
                lead_id=lead["lead_id"], customer_id=customer_id, contact_id=contact_id,
                opportunity_id=opportunity["opportunity_id"], owner_id=lead["owner_id"],
                merged_into_existing_customer=merged, converted_at=now, team_id=lead["team_id"],
                sdr_id=lead["qualified_by"], converted_by=actor.id)),
            (OPPORTUNITIES, lead["lead_id"], opportunity_event(opportunity, "created", None, actor.id, now)),
        ])
        await OpportunityRepository(uow.session).add([
            *rows, (tables.opportunities, [opportunity]), (tables.conversions, [conversion]),
            (tables.stage_changes, [first_stage]), events], lead["lead_id"])
        return _result(conversion)


def _opportunity(lead: dict[str, Any], request: ConvertRequest, customer_id: uuid.UUID, contact_id: uuid.UUID,
                 stage: str, pipeline: Pipeline, actor: Actor, now: datetime) -> dict[str, Any]:
    given = request.opportunity
    return {"opportunity_id": uuid.uuid4(), "lead_id": lead["lead_id"], "customer_id": customer_id,
            "contact_id": contact_id, "name": given.name, "amount": given.amount, "currency": given.currency,
            "expected_close": given.expected_close, "product_line": given.product_line, "stage": stage,
            "status": "open", "probability": pipeline.probability(stage), "owner_id": lead["owner_id"] or actor.id,
            "team_id": lead["team_id"], "sdr_id": lead["qualified_by"], "source": lead["source"],
            "partner_id": lead["partner_id"], "created_by": actor.id, "created_at": now, "stage_entered_at": now}


def _or_refuse(value: Any) -> Any:
    if isinstance(value, Refusal):
        raise Refused(value)
    return value


def _result(conversion: dict[str, Any]) -> dict[str, Any]:
    return {k: conversion[k] for k in ("lead_id", "customer_id", "contact_id", "opportunity_id", "merged",
                                       "override", "converted_by", "converted_at")}
