"""opportunity's HTTP API for staff (a staff token; see leadflow_shared.staff): accepting and converting leads
(线索转商机), customers and their contacts, opportunities through their stages (商机推进), the pipeline document,
and payments for systems that post them instead of publishing `payments.received.v1`.

Refusals carry a stable `code` and their reason in the caller's language (Accept-Language: zh or en)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from pydantic import BaseModel, ConfigDict, Field

from leadflow_opportunity import views
from leadflow_opportunity.bootstrap import Opportunity
from leadflow_opportunity.db import store_pipeline
from leadflow_opportunity.deals import Move
from leadflow_opportunity.domain.conversion import ConvertRequest
from leadflow_opportunity.domain.model import Actor
from leadflow_shared.refusals import Refusal
from leadflow_opportunity.domain.pipeline import Pipeline, dump_pipeline_yaml, parse_pipeline
from leadflow_shared.contracts import PaymentReceived
from leadflow_shared.documents import DocumentError
from leadflow_shared.http import body_document, invalid_document, refused
from leadflow_shared.refusals import Refused
from leadflow_shared.staff import Role, Staff, staff_roles

ANY_STAFF = staff_roles(Role.rep, Role.sdr, Role.manager, Role.admin, Role.finance)
SELLERS = staff_roles(Role.rep, Role.sdr, Role.manager, Role.admin)
MANAGERS = staff_roles(Role.manager, Role.admin)
ADMINS = staff_roles(Role.admin)
PAYERS = staff_roles(Role.finance, Role.admin)
YAML = "application/yaml"


EXCEPTION_HANDLERS = {Refused: refused, DocumentError: invalid_document}


def actor(staff: Staff) -> Actor:
    return Actor(staff.id, frozenset(staff.roles), frozenset(staff.teams))


def refuse(status: int, code: str, en: str, zh: str) -> Refused:
    return Refused(Refusal(status, code, en, zh))


def sees_all(staff: Staff) -> bool:
    return staff.has(Role.admin, Role.finance)


# ---- leads ---------------------------------------------------------------------------------------------

class LeadView(BaseModel):
    lead_id: uuid.UUID
    status: str = Field(description="open (owned), unowned (in a pool) or converted")
    owner_id: str | None
    team_id: str | None
    qualified_by: str | None = Field(description="The SDR who qualified it.")
    source: str | None
    partner_id: str | None
    received_at: datetime | None
    mql_at: datetime | None
    accepted_at: datetime | None = Field(description="SQL: when sales accepted it.")
    accepted_by: str | None
    lead: dict[str, Any] | None = Field(description="The lead as intake normalized it (its owner and managers).")
    conversion: dict[str, Any] | None
    updated_at: datetime


class LeadController(Controller):
    path = "/v1/leads"
    tags = ["conversion"]

    @get("/{lead_id:uuid}", guards=[ANY_STAFF],
         summary="A lead: who works it, whether sales accepted it (SQL), and what it converted into")
    async def show(self, lead_id: FromPath[uuid.UUID], opportunity: NamedDependency[Opportunity],
                   staff: NamedDependency[Staff]) -> LeadView:
        row = await views.lead(opportunity.db, lead_id)
        if row is None:
            raise refuse(404, "unknown_lead", f"opportunity knows no lead {lead_id}", f"没有线索 {lead_id}")
        mine = row["owner_id"] == staff.id or actor(staff).manages(row["team_id"]) or sees_all(staff)
        return LeadView.model_validate({**row, "lead": row["snapshot"] if mine else None})

    @post("/{lead_id:uuid}/accept", status_code=HTTP_200_OK, guards=[SELLERS],
          summary="销售认可: the owner accepts the lead as sales-qualified (SQL); a manager of its team may for him")
    async def accept(self, lead_id: FromPath[uuid.UUID], opportunity: NamedDependency[Opportunity],
                     staff: NamedDependency[Staff]) -> dict[str, Any]:
        return await opportunity.conversions.accept(lead_id, actor(staff))

    @post("/{lead_id:uuid}/convert", status_code=HTTP_201_CREATED, guards=[SELLERS],
          summary="线索转商机: convert an accepted lead into customer + contact + opportunity (its owner, or a "
                  "manager). The customer merges into an existing one; converting twice is 409 with the result")
    async def convert(self, lead_id: FromPath[uuid.UUID], data: JSONBody[ConvertRequest],
                      opportunity: NamedDependency[Opportunity], staff: NamedDependency[Staff]) -> dict[str, Any]:
        return await opportunity.conversions.convert(lead_id, data, actor(staff))


# ---- customers -----------------------------------------------------------------------------------------

class CustomerController(Controller):
    path = "/v1/customers"
    tags = ["customers"]

    @get("/", guards=[ANY_STAFF],
         summary="Find customers by name, credit code or mobile (before converting: is it known already?)")
    async def search(self, opportunity: NamedDependency[Opportunity],
                     q: Annotated[str, QueryParameter(min_length=2, max_length=200)],
                     limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20) -> list[dict[str, Any]]:
        rows = await views.find_customers(opportunity.db, q.strip(), limit)
        return [{k: r[k] for k in ("customer_id", "kind", "name", "credit_code", "province", "city", "owner_id",
                                   "created_at")} for r in rows]

    @get("/{customer_id:uuid}", guards=[ANY_STAFF],
         summary="A customer with its contacts, opportunities and the leads that made it (its owners and managers)")
    async def show(self, customer_id: FromPath[uuid.UUID], opportunity: NamedDependency[Opportunity],
                   staff: NamedDependency[Staff]) -> dict[str, Any]:
        row = await views.customer(opportunity.db, customer_id)
        if row is None:
            raise refuse(404, "unknown_customer", f"no customer {customer_id}", f"客户 {customer_id} 不存在")
        who = actor(staff)
        if not (sees_all(staff) or row["owner_id"] == staff.id or any(
                o["owner_id"] == staff.id or who.manages(o["team_id"]) for o in row["opportunities"])):
            raise refuse(403, "not_yours", "the customer is someone else's", "该客户由他人负责")
        return row


# ---- opportunities -------------------------------------------------------------------------------------

class MoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    to: str = Field(min_length=1, max_length=50, description="A stage id of the pipeline, `won` or `lost`.")
    lost_reason: str | None = Field(None, max_length=50, description="Lost: a reason id of the pipeline.")
    contract_ref: str | None = Field(None, max_length=100, description="Won: the contract's reference.")
    note: str | None = Field(None, max_length=2000)


class OpportunityController(Controller):
    path = "/v1/opportunities"
    tags = ["opportunities"]

    @get("/", guards=[ANY_STAFF],
         summary="Opportunities, newest first: a rep's own, a manager's teams', everything for admin and finance")
    async def index(self, opportunity: NamedDependency[Opportunity], staff: NamedDependency[Staff],
                    owner: FromQuery[list[str] | None] = None, team: FromQuery[list[str] | None] = None,
                    status: FromQuery[list[str] | None] = None, stage: FromQuery[list[str] | None] = None,
                    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
                    offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0) -> list[dict[str, Any]]:
        owners, teams = tuple(owner or ()), tuple(team or ())
        if not sees_all(staff):
            if staff.has(Role.manager):
                teams = tuple(t for t in teams if t in staff.teams) if teams else tuple(sorted(staff.teams))
                if not teams:
                    owners = (staff.id,)
            else:
                owners = (staff.id,)
        flt = views.OpportunityFilter(owners, teams, tuple(status or ()), tuple(stage or ()))
        return await views.list_opportunities(opportunity.db, flt, limit, offset)

    @get("/{opportunity_id:uuid}", guards=[ANY_STAFF],
         summary="An opportunity with every stage change (who, when, from, to) and its payments")
    async def show(self, opportunity_id: FromPath[uuid.UUID], opportunity: NamedDependency[Opportunity],
                   staff: NamedDependency[Staff]) -> dict[str, Any]:
        row = await views.opportunity(opportunity.db, opportunity_id)
        if row is None:
            raise refuse(404, "unknown_opportunity", f"no opportunity {opportunity_id}", f"商机 {opportunity_id} 不存在")
        if not (sees_all(staff) or row["owner_id"] == staff.id or row["sdr_id"] == staff.id
                or actor(staff).manages(row["team_id"])):
            raise refuse(403, "not_owner", "the opportunity is someone else's", "该商机由他人负责")
        return row

    @post("/{opportunity_id:uuid}/stage", status_code=HTTP_200_OK, guards=[SELLERS],
          summary="Move an opportunity to a stage, or close it: won (with contract_ref) or lost (with a lost_reason)")
    async def move(self, opportunity_id: FromPath[uuid.UUID], data: JSONBody[MoveRequest],
                   opportunity: NamedDependency[Opportunity], staff: NamedDependency[Staff]) -> dict[str, Any]:
        return await opportunity.deals.move(opportunity_id, Move(data.to, data.lost_reason, data.contract_ref,
                                                                 data.note), actor(staff))


# ---- the pipeline --------------------------------------------------------------------------------------

class PipelineController(Controller):
    path = "/v1/pipeline"
    tags = ["pipeline"]

    @get("/", guards=[ANY_STAFF],
         summary="The pipeline in force: stages with win probabilities, lost reasons (YAML with ?format=yaml)")
    async def show(self, opportunity: NamedDependency[Opportunity], format: FromQuery[str] = "json") -> Response[Any]:
        async with opportunity.db.uow() as uow:
            pipeline = await opportunity.pipelines.current(uow.session)
        if format == "yaml":
            return Response(dump_pipeline_yaml(pipeline), media_type=YAML)
        return Response({"version": opportunity.pipelines.version, **pipeline.document()})

    @put("/", status_code=HTTP_200_OK, guards=[ADMINS],
         summary="Replace the pipeline (YAML or JSON body), validated whole: every error with its path")
    async def replace(self, request: Request[Any, Any, Any], opportunity: NamedDependency[Opportunity],
                      staff: NamedDependency[Staff]) -> dict[str, Any]:
        pipeline = parse_pipeline(await body_document(request))
        async with opportunity.db.uow() as uow:
            version = await store_pipeline(uow.session, pipeline, staff.id)
            await uow.commit()
        return _summary(pipeline) | {"version": version}

    @post("/validate", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Check a pipeline document without applying it: every error with its path")
    async def validate(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        return _summary(parse_pipeline(await body_document(request))) | {"valid": True}


def _summary(pipeline: Pipeline) -> dict[str, Any]:
    return {"stages": [s.id for s in pipeline.stages], "lost_reasons": [r.id for r in pipeline.lost_reasons]}


# ---- payments ------------------------------------------------------------------------------------------

class PaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    payment_id: str = Field(min_length=1, max_length=100, description="Your id of the payment: posting it again "
                                                                      "changes nothing.")
    opportunity_id: uuid.UUID | None = None
    contract_ref: str | None = Field(None, min_length=1, max_length=100)
    amount: float = Field(gt=0, le=1e12)
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$")
    received_at: datetime = Field(description="When the money came, with its UTC offset.")


class PaymentController(Controller):
    path = "/v1/payments"
    tags = ["payments"]

    @post("/", guards=[PAYERS],
          summary="Record a payment (billing systems that post instead of publishing payments.received.v1; staff: "
                  "finance, admin). The first payment of a won deal realizes it. 201 new, 200 known already")
    async def record(self, data: JSONBody[PaymentRequest], opportunity: NamedDependency[Opportunity],
                     staff: NamedDependency[Staff]) -> Response[dict[str, Any]]:
        if data.received_at.tzinfo is None:
            raise refuse(400, "naive_time", "received_at needs its UTC offset (2026-12-01T10:00:00+08:00)",
                         "received_at 须带时区（如 2026-12-01T10:00:00+08:00）")
        if data.opportunity_id is None and data.contract_ref is None:
            raise refuse(400, "no_opportunity", "name the opportunity: opportunity_id or contract_ref",
                         "请指明商机：opportunity_id 或 contract_ref")
        row = await opportunity.deals.pay(PaymentReceived.model_validate(data.model_dump()), staff.id)
        body = {"payment_id": data.payment_id, "recorded": row["payment_recorded"],
                "opportunity_id": row["opportunity_id"], "status": row["status"], "realized_at": row["realized_at"]}
        return Response(body, status_code=HTTP_201_CREATED if row["payment_recorded"] else HTTP_200_OK)


CONTROLLERS = [LeadController, CustomerController, OpportunityController, PipelineController, PaymentController]

__all__ = ["CONTROLLERS", "EXCEPTION_HANDLERS"]
