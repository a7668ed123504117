"""pool's HTTP API, for staff (a staff token; see leadflow_shared.staff): the pools (公海) and their leads,
claiming (领取), releasing (放弃) and transferring leads, my leads with their deadlines, and the pools document.

Refusals carry their reason in the caller's language (Accept-Language: zh or en)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK
from pydantic import BaseModel, ConfigDict, Field

from leadflow_pool import views
from leadflow_pool.bootstrap import Pool
from leadflow_pool.db import store_pools
from leadflow_pool.domain.claims import Claimant
from leadflow_pool.domain.pools import PoolDocument, dump_pools_yaml, parse_pools
from leadflow_pool.ownership import Ownership, Refused
from leadflow_shared.documents import DocumentError
from leadflow_shared.http import body_document, invalid_document, refused
from leadflow_shared.refusals import Refusal
from leadflow_shared.staff import Role, Staff, staff_roles

ANY_STAFF = staff_roles(Role.rep, Role.sdr, Role.manager, Role.admin)
CLAIMERS = staff_roles(Role.rep, Role.sdr, Role.manager, Role.admin)
MANAGERS = staff_roles(Role.manager, Role.admin)
ADMINS = staff_roles(Role.admin)
YAML = "application/yaml"


def bad_cursor(request: Request[Any, Any, Any], exc: views.BadCursor) -> Response[dict[str, Any]]:
    return Response({"status_code": 400, "detail": str(exc)}, status_code=400)


EXCEPTION_HANDLERS = {Refused: refused, DocumentError: invalid_document, views.BadCursor: bad_cursor}


def claimant(staff: Staff) -> Claimant:
    return Claimant(staff.id, tuple(staff.teams), tuple(staff.roles))


def _refuse(status: int, code: str, en: str, zh: str) -> Refused:
    return Refused(Refusal(status, code, en, zh))


async def _document(pool: Pool) -> PoolDocument:
    async with pool.db.uow() as uow:
        return await pool.pools.current(uow.session)


def _visible(document: PoolDocument, pool_id: str, staff: Staff) -> Any:
    pool_def = document.pool(pool_id)
    if pool_def is None:
        raise _refuse(404, "unknown_pool", f"no pool {pool_id}", f"公海 {pool_id} 不存在")
    if not pool_def.may_view(staff.id, staff.teams, staff.roles):
        raise _refuse(403, "not_a_viewer", f"you may not view pool {pool_id}", f"您无权查看公海 {pool_id}")
    return pool_def


# ---- pools ---------------------------------------------------------------------------------------------

class PoolController(Controller):
    path = "/v1/pools"
    tags = ["pools"]

    @get("/", summary="The pools (公海) I may view, with how many leads wait in each", guards=[ANY_STAFF])
    async def index(self, pool: NamedDependency[Pool], staff: NamedDependency[Staff]) -> list[dict[str, Any]]:
        document = await _document(pool)
        counts = await views.pool_counts(pool.db)
        return [{"id": p.id, "name": p.name, "kind": p.kind, "rules": p.rules.model_dump(mode="json"),
                 "may_claim": p.may_claim(staff.id, staff.teams, staff.roles),
                 "may_manage": p.may_manage(staff.id, staff.teams, staff.roles),
                 "waiting": counts.get(p.id, {}).get("in_pool", 0), "owned": counts.get(p.id, {}).get("owned", 0)}
                for p in document.pools if p.may_view(staff.id, staff.teams, staff.roles)]

    @get("/document", summary="The pools document: pools, members, rules, reason lists (YAML with ?format=yaml)",
         guards=[ANY_STAFF])
    async def show_document(self, pool: NamedDependency[Pool], format: FromQuery[str] = "json") -> Response[Any]:
        document = await _document(pool)
        if format == "yaml":
            return Response(dump_pools_yaml(document), media_type=YAML)
        return Response({"version": pool.pools.version, **document.document()})

    @put("/document", status_code=HTTP_200_OK, guards=[ADMINS],
         summary="Replace the pools document (YAML or JSON body), validated whole: every error with its path")
    async def replace_document(self, request: Request[Any, Any, Any], pool: NamedDependency[Pool],
                               staff: NamedDependency[Staff]) -> dict[str, Any]:
        document = parse_pools(await body_document(request))
        async with pool.db.uow() as uow:
            version = await store_pools(uow.session, document, staff.id)
            await uow.commit()
        return {"version": version, "pools": [p.id for p in document.pools]}

    @post("/document/validate", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Check a pools document without applying it: every error with its path")
    async def validate_document(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        document = parse_pools(await body_document(request))
        return {"valid": True, "pools": [p.id for p in document.pools]}

    @get("/{pool_id:str}", summary="One pool with its rules", guards=[ANY_STAFF])
    async def show(self, pool_id: FromPath[str], pool: NamedDependency[Pool],
                   staff: NamedDependency[Staff]) -> dict[str, Any]:
        pool_def = _visible(await _document(pool), pool_id, staff)
        return pool_def.model_dump(mode="json")

    @get("/{pool_id:str}/leads", guards=[ANY_STAFF],
         summary="The leads waiting in a pool, filtered and sorted, a page at a time; contacts masked until claimed")
    async def leads(
        self, pool_id: FromPath[str], pool: NamedDependency[Pool], staff: NamedDependency[Staff],
        grade: Annotated[list[str] | None, QueryParameter(description="A, B, C or D (repeat for several)")] = None,
        min_score: FromQuery[float | None] = None, max_score: FromQuery[float | None] = None,
        source: FromQuery[list[str] | None] = None, province: FromQuery[list[str] | None] = None,
        city: FromQuery[list[str] | None] = None, industry: FromQuery[list[str] | None] = None,
        min_age_days: Annotated[float | None, QueryParameter(ge=0)] = None,
        max_age_days: Annotated[float | None, QueryParameter(ge=0)] = None,
        sort: Annotated[str, QueryParameter(description=", ".join(views.SORTS))] = "-score",
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        _visible(await _document(pool), pool_id, staff)
        if sort not in views.SORTS:
            raise _refuse(400, "unknown_sort", f"sort must be one of {', '.join(views.SORTS)}",
                          f"排序须为以下之一：{'、'.join(views.SORTS)}")
        flt = views.PoolLeadFilter(tuple(grade or ()), min_score, max_score, tuple(source or ()),
                                   tuple(province or ()), tuple(city or ()), tuple(industry or ()),
                                   min_age_days, max_age_days)
        rows, following = await views.pool_leads_page(pool.db, pool_id, flt, sort, limit, cursor)
        return {"leads": rows, "next_cursor": following}


# ---- a lead's ownership ----------------------------------------------------------------------------------

class ReleaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(description="A code of the pools document's release_reasons.")
    note: str | None = Field(None, max_length=2000)


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_owner_id: str | None = Field(None, min_length=1, max_length=100)
    to_pool_id: str | None = Field(None, min_length=1, max_length=100)
    reason: str | None = Field(None, max_length=2000)


class LeadView(BaseModel):
    lead_id: uuid.UUID
    pool_id: str
    status: str
    owner_id: str | None
    ownership_seq: int
    workflow_id: str | None = Field(None, description="The ownership workflow keeping its deadlines (Temporal).")
    owner_since: datetime | None
    next_deadline: datetime | None
    deadline_kind: str | None
    first_follow_up_deadline: datetime | None
    inactivity_deadline: datetime | None
    conversion_deadline: datetime | None
    protected_until: datetime | None
    last_follow_up_at: datetime | None
    previous_owner_ids: list[str]
    name: str | None
    mobile: str | None
    wechat: str | None
    email: str | None
    company_name: str | None
    province: str | None
    city: str | None
    industry: str | None
    source: str | None
    grade: str | None
    score: float | None
    stage: str | None
    received_at: datetime | None
    overdue: bool | None = None


def lead_view(row: dict[str, Any], staff: Staff) -> LeadView:
    """Contacts in full for the lead's owner and managers; masked for everyone else."""
    sees_contacts = staff.has(Role.manager, Role.admin) or row.get("owner_id") == staff.id
    shown = row if sees_contacts else views.masked(row)
    return LeadView.model_validate({**shown, "previous_owner_ids": list(row.get("previous_owner_ids") or [])})


class LeadController(Controller):
    path = "/v1/leads"
    tags = ["ownership"]

    @get("/{lead_id:uuid}", guards=[ANY_STAFF],
         summary="Where a lead is: its pool, owner and deadlines (contacts masked unless it is yours)")
    async def show(self, lead_id: FromPath[uuid.UUID], pool: NamedDependency[Pool],
                   staff: NamedDependency[Staff]) -> LeadView:
        row = await views.pool_lead(pool.db, lead_id)
        if row is None:
            raise _refuse(404, "unknown_lead", f"pool has no lead {lead_id}", f"公海中没有线索 {lead_id}")
        return lead_view(row, staff)

    @post("/{lead_id:uuid}/claim", status_code=HTTP_200_OK, guards=[CLAIMERS],
          summary="领取: take a lead from its pool. Of simultaneous claimers exactly one wins; the others get 409")
    async def claim(self, lead_id: FromPath[uuid.UUID], pool: NamedDependency[Pool],
                    staff: NamedDependency[Staff]) -> LeadView:
        async with pool.db.uow() as uow:
            change = await Ownership(pool).claim(uow, lead_id, claimant(staff))
            await uow.commit()
        return lead_view(change.lead, staff)

    @post("/{lead_id:uuid}/release", status_code=HTTP_200_OK, guards=[CLAIMERS],
          summary="放弃: give a lead back to its pool, with a reason from the managed list (owner or manager)")
    async def release(self, lead_id: FromPath[uuid.UUID], data: JSONBody[ReleaseRequest], pool: NamedDependency[Pool],
                      staff: NamedDependency[Staff]) -> LeadView:
        async with pool.db.uow() as uow:
            change = await Ownership(pool).release(uow, lead_id, claimant(staff), data.reason, data.note)
            await uow.commit()
        return lead_view(change.lead, staff)

    @post("/{lead_id:uuid}/transfer", status_code=HTTP_200_OK, guards=[CLAIMERS],
          summary="Move a lead to a rep or another pool (a manager of its pool; a member of both pools between pools)")
    async def transfer(self, lead_id: FromPath[uuid.UUID], data: JSONBody[TransferRequest], pool: NamedDependency[Pool],
                       staff: NamedDependency[Staff]) -> LeadView:
        async with pool.db.uow() as uow:
            change = await Ownership(pool).transfer(uow, lead_id, claimant(staff), data.to_owner_id,
                                                    data.to_pool_id, data.reason)
            await uow.commit()
        return lead_view(change.lead, staff)


class MeController(Controller):
    path = "/v1/me"
    tags = ["ownership"]

    @get("/leads", guards=[ANY_STAFF], summary="My leads with their next deadline, overdue first")
    async def my_leads(self, pool: NamedDependency[Pool], staff: NamedDependency[Staff],
                       limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
                       offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0) -> list[LeadView]:
        rows = await views.my_leads(pool.db, staff.id, limit, offset)
        return [lead_view(r, staff) for r in rows]


CONTROLLERS = [PoolController, LeadController, MeController]
