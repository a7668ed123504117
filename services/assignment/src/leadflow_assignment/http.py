"""assignment's HTTP API: the organisation, the rules (with simulation), where a lead was routed and why,
the managers' tools (assign, territory handover, batch distribution) and the distribution report.

Every endpoint is for staff, with a token of the staff identity (`leadflow staff token`); each declares the
roles it admits, and a manager acts only for the teams he manages.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_422_UNPROCESSABLE_ENTITY
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadflow_assignment import views
from leadflow_assignment.assigner import AssignmentRefused
from leadflow_assignment.bootstrap import Assignment
from leadflow_assignment.domain.org import (
    DocumentError,
    Problem,
    Rep,
    Team,
    dump_organisation_yaml,
    parse_organisation,
    parse_yaml,
    pydantic_problems,
)
from leadflow_assignment.domain.rules import dump_rules_yaml, parse_rules
from leadflow_shared.staff import Role, Staff, staff_roles

ANY_STAFF = staff_roles(Role.rep, Role.sdr, Role.manager, Role.admin)
MANAGERS = staff_roles(Role.manager, Role.admin)
ADMINS = staff_roles(Role.admin)
YAML = "application/yaml"


def refused(request: Request[Any, Any, Any], exc: AssignmentRefused) -> Response[dict[str, Any]]:
    return Response({"status_code": exc.status, "detail": exc.reason}, status_code=exc.status)


def invalid(request: Request[Any, Any, Any], exc: DocumentError) -> Response[dict[str, Any]]:
    """A document refused whole: every problem with its path; nothing was applied."""
    return Response({"status_code": 422, "detail": "refused whole: nothing was applied",
                     "errors": [p.model_dump() for p in exc.problems]}, status_code=HTTP_422_UNPROCESSABLE_ENTITY)


EXCEPTION_HANDLERS = {AssignmentRefused: refused, DocumentError: invalid}


async def _document(request: Request[Any, Any, Any]) -> Any:
    """A request's body as a document: YAML (JSON is YAML too)."""
    body = await request.body()
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise DocumentError([Problem(path="", message="the body is not UTF-8 text")]) from None
    return parse_yaml(text)


def _manages(staff: Staff) -> Any:
    def check(team_id: str) -> None:
        staff.require_team(team_id)
    return check


# ---- organisation ---------------------------------------------------------------------------------------

class OrgController(Controller):
    path = "/v1/org"
    tags = ["organisation"]

    @get("/", summary="The organisation: teams, territories and reps (YAML with ?format=yaml)", guards=[ANY_STAFF])
    async def show(self, assignment: NamedDependency[Assignment], format: FromQuery[str] = "json") -> Response[Any]:
        async with assignment.db.uow() as uow:
            await assignment.assigner.catalogue.refresh(uow.session)
        catalogue = assignment.assigner.catalogue
        if format == "yaml":
            return Response(dump_organisation_yaml(catalogue.org), media_type=YAML)
        return Response({"version": catalogue.org_version, **catalogue.org.document()})

    @put("/", status_code=HTTP_200_OK, guards=[ADMINS],
         summary="Replace the organisation (YAML or JSON body), validated whole: every error with its path")
    async def replace(self, request: Request[Any, Any, Any], assignment: NamedDependency[Assignment],
                      staff: NamedDependency[Staff]) -> dict[str, Any]:
        org = parse_organisation(await _document(request))
        async with assignment.db.uow() as uow:
            version = await assignment.assigner.store_org(uow, org, staff.id)
            await uow.commit()
        return {"version": version, "teams": len(org.teams), "reps": len(org.reps)}


class TeamController(Controller):
    path = "/v1/teams"
    tags = ["organisation"]

    @get("/", summary="Teams", guards=[ANY_STAFF])
    async def index(self, assignment: NamedDependency[Assignment]) -> list[dict[str, Any]]:
        org = await _org(assignment)
        return [t.model_dump(mode="json") for t in org.teams]

    @put("/{team_id:str}", status_code=HTTP_200_OK, summary="Add or replace a team (admin)", guards=[ADMINS])
    async def put_team(self, team_id: FromPath[str], data: dict[str, Any], assignment: NamedDependency[Assignment],
                       staff: NamedDependency[Staff]) -> dict[str, Any]:
        team = _validated(Team, {**data, "id": team_id}, "team")
        org = parse_organisation((await _org(assignment)).with_team(team).document())
        async with assignment.db.uow() as uow:
            version = await assignment.assigner.store_org(uow, org, staff.id)
            await uow.commit()
        return {"version": version, "team": team.model_dump(mode="json")}

    @post("/{team_id:str}/distribute", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="批量平均分配: spread queued or pooled leads (ids or a filter) evenly across chosen reps, within caps")
    async def distribute(self, team_id: FromPath[str], data: DistributeRequest, assignment: NamedDependency[Assignment],
                         staff: NamedDependency[Staff]) -> dict[str, Any]:
        async with assignment.db.uow() as uow:
            result = await assignment.assigner.distribute(
                uow, team_id, data.rep_ids, staff.id, _manages(staff), lead_ids=data.lead_ids,
                where=data.filter.model_dump(exclude_none=True) if data.filter else None, limit=data.limit)
            await uow.commit()
        return result


class DistributeFilter(BaseModel):
    status: str | None = Field(None, pattern="^(queued|pooled)$")
    grade: str | None = None
    channel: str | None = None
    pool: str | None = None
    queue: str | None = None


class DistributeRequest(BaseModel):
    rep_ids: list[str] = Field(min_length=1, max_length=500)
    lead_ids: list[uuid.UUID] | None = Field(None, max_length=5000)
    filter: DistributeFilter | None = None
    limit: int = Field(1000, ge=1, le=5000)


class RepController(Controller):
    path = "/v1/reps"
    tags = ["organisation"]

    @get("/", summary="Reps with their open leads and new leads today", guards=[MANAGERS])
    async def index(self, assignment: NamedDependency[Assignment], team: FromQuery[str | None] = None
                    ) -> list[dict[str, Any]]:
        org = await _org(assignment)
        loads = await views.loads(assignment.db)
        today = assignment.assigner.today()
        return [_rep_view(r, loads.get(r.id), today) for r in org.reps_of(team)]

    @get("/{rep_id:str}", summary="A rep, his caps and his load", guards=[ANY_STAFF])
    async def show(self, rep_id: FromPath[str], assignment: NamedDependency[Assignment]) -> dict[str, Any]:
        rep = (await _org(assignment)).rep(rep_id)
        if rep is None:
            raise NotFoundException(f"no rep {rep_id!r}")
        loads = await views.loads(assignment.db)
        return _rep_view(rep, loads.get(rep.id), assignment.assigner.today())

    @put("/{rep_id:str}", status_code=HTTP_200_OK, guards=[MANAGERS],
         summary="Add or replace a rep: status (active, on_leave, gone), tier, caps, territories, skills")
    async def put_rep(self, rep_id: FromPath[str], data: dict[str, Any], assignment: NamedDependency[Assignment],
                      staff: NamedDependency[Staff]) -> dict[str, Any]:
        rep = _validated(Rep, {**data, "id": rep_id}, "rep")
        org = await _org(assignment)
        before = org.rep(rep_id)
        staff.require_team(rep.team)
        if before is not None:
            staff.require_team(before.team)
        updated = parse_organisation(org.with_rep(rep).document())
        async with assignment.db.uow() as uow:
            version = await assignment.assigner.store_org(uow, updated, staff.id)
            await uow.commit()
        return {"version": version, "rep": rep.model_dump(mode="json")}


def _rep_view(rep: Rep, load: dict[str, Any] | None, today: Any) -> dict[str, Any]:
    new_today = load["new_today"] if load and load["day"] == today else 0
    return {**rep.model_dump(mode="json"), "open_leads": load["open_leads"] if load else 0, "new_today": new_today}


def _validated(model: type[Team] | type[Rep], data: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DocumentError([p.model_copy(update={"path": f"{what}.{p.path}" if p.path else what})
                             for p in pydantic_problems(exc)]) from None


async def _org(assignment: Assignment) -> Any:
    async with assignment.db.uow() as uow:
        await assignment.assigner.catalogue.refresh(uow.session)
    return assignment.assigner.catalogue.org


class TerritoryController(Controller):
    path = "/v1/territories"
    tags = ["managers"]

    @post("/{territory_id:str}/reassign", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Hand a territory's open leads from one rep to another in one operation (field sales)")
    async def reassign(self, territory_id: FromPath[str], data: TerritoryHandover,
                       assignment: NamedDependency[Assignment], staff: NamedDependency[Staff]) -> dict[str, Any]:
        async with assignment.db.uow() as uow:
            result = await assignment.assigner.reassign_territory(
                uow, territory_id, data.from_rep_id, data.to_rep_id, staff.id, _manages(staff))
            await uow.commit()
        return result


class TerritoryHandover(BaseModel):
    from_rep_id: str = Field(min_length=1)
    to_rep_id: str = Field(min_length=1)


# ---- rules ----------------------------------------------------------------------------------------------

class RulesController(Controller):
    path = "/v1/rules"
    tags = ["rules"]

    @get("/", summary="The rule set in force (YAML with ?format=yaml) and the versions kept", guards=[MANAGERS])
    async def show(self, assignment: NamedDependency[Assignment], format: FromQuery[str] = "json") -> Response[Any]:
        await _org(assignment)
        rules = assignment.assigner.catalogue.rules
        if format == "yaml":
            return Response(dump_rules_yaml(rules), media_type=YAML)
        kept = await views.versions(assignment.db, "rule_sets")
        return Response({"version": rules.version, **rules.document(), "versions": kept})

    @put("/", status_code=HTTP_200_OK, guards=[ADMINS],
         summary="Load a new rule set (YAML or JSON body), validated whole against the organisation")
    async def replace(self, request: Request[Any, Any, Any], assignment: NamedDependency[Assignment],
                      staff: NamedDependency[Staff]) -> dict[str, Any]:
        document = await _document(request)
        async with assignment.db.uow() as uow:
            version = await assignment.assigner.store_rules(uow, document, staff.id)
            await uow.commit()
        return {"version": str(version)}

    @post("/validate", status_code=HTTP_200_OK, guards=[MANAGERS], summary="Check a rule set without loading it")
    async def validate(self, request: Request[Any, Any, Any], assignment: NamedDependency[Assignment]) -> dict[str, Any]:
        rules = parse_rules(await _document(request), await _org(assignment))
        return {"valid": True, "rules": len(rules.rules), "teams": sorted(rules.teams)}

    @post("/simulate", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="Replay a period's leads under proposed rules beside the current ones: per-rep counts by grade, "
                  "cap overflows, expected conversions (收益预估)")
    async def simulate(self, data: SimulateRequest, assignment: NamedDependency[Assignment]) -> dict[str, Any]:
        proposed = parse_yaml(data.rules) if isinstance(data.rules, str) else data.rules
        async with assignment.db.uow() as uow:
            zone = ZoneInfo(assignment.settings.business_timezone)  # a time without a zone is the business's
            start, end = (t if t is None or t.tzinfo else t.replace(tzinfo=zone) for t in (data.from_, data.to))
            return await assignment.assigner.simulate(uow, proposed, start, end, data.limit)


class SimulateRequest(BaseModel):
    rules: str | dict[str, Any] = Field(description="The proposed rule set: YAML text, or the document as JSON.")
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime | None = Field(None, alias="from", description="First routing time replayed (with its zone).")
    to: datetime | None = Field(None, description="Routing time replayed up to (excluded).")
    limit: int = Field(100_000, ge=1, le=1_000_000)


# ---- leads ----------------------------------------------------------------------------------------------

class LeadController(Controller):
    path = "/v1/leads"
    tags = ["assignments"]

    @get("/{lead_id:uuid}/assignment", guards=[ANY_STAFF],
         summary="Every decision for a lead: rule, version, strategy, candidates and why each was passed over")
    async def show(self, lead_id: FromPath[uuid.UUID], assignment: NamedDependency[Assignment],
                   staff: NamedDependency[Staff]) -> dict[str, Any]:
        lead = await views.lead(assignment.db, lead_id)
        if lead is None:
            raise NotFoundException(f"assignment knows no lead {lead_id}")
        if not staff.has(Role.manager, Role.admin) and staff.id != lead["owner_id"] \
                and staff.id not in lead["previous_owners"]:
            raise PermissionDeniedException("a rep sees the assignment of his own leads only")
        decided = await views.decisions(assignment.db, lead_id)
        return {**lead, "decisions": decided}

    @post("/{lead_id:uuid}/assign", status_code=HTTP_200_OK, guards=[MANAGERS],
          summary="A manager gives a lead (from his queue, a pool or another rep) to a rep, within the rep's caps")
    async def assign(self, lead_id: FromPath[uuid.UUID], data: AssignRequest, assignment: NamedDependency[Assignment],
                     staff: NamedDependency[Staff]) -> dict[str, Any]:
        async with assignment.db.uow() as uow:
            decision = await assignment.assigner.assign(uow, lead_id, data.rep_id, staff.id, data.reason,
                                                        _manages(staff))
            await uow.commit()
        return decision


class AssignRequest(BaseModel):
    rep_id: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(None, max_length=500)


class QueueController(Controller):
    path = "/v1/queues"
    tags = ["managers"]

    @get("/{queue:str}/leads", summary="The leads waiting in a manager's queue, oldest first", guards=[MANAGERS])
    async def show(self, queue: FromPath[str], assignment: NamedDependency[Assignment],
                   limit: FromQuery[int] = 100) -> list[dict[str, Any]]:
        return await views.queued(assignment.db, queue, max(1, min(limit, 1000)))


# ---- reports --------------------------------------------------------------------------------------------

class ReportController(Controller):
    path = "/v1/reports"
    tags = ["reports"]

    @get("/distribution", guards=[MANAGERS],
         summary="Per rep, leads received by grade and source channel (JSON, or CSV with ?format=csv)")
    async def distribution(self, assignment: NamedDependency[Assignment], staff: NamedDependency[Staff],
                           team: FromQuery[str | None] = None,
                           from_: Annotated[datetime | None, QueryParameter(name="from")] = None,
                           to: FromQuery[datetime | None] = None, format: FromQuery[str] = "json") -> Response[Any]:
        if team is None and not staff.is_admin:
            raise PermissionDeniedException("a manager names his team: ?team=…")
        if team is not None:
            staff.require_team(team)
        rows = await views.distribution(assignment.db, team, from_, to)
        if format != "csv":
            return Response({"team": team, "from": from_, "to": to, "reps": rows})
        return Response(_csv(rows), media_type="text/csv")


def _csv(rows: list[dict[str, Any]]) -> str:
    grades = sorted({g for r in rows for g in r["by_grade"]})
    channels = sorted({c for r in rows for c in r["by_channel"]})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rep_id", "team_id", "leads", *(f"grade_{g}" for g in grades), *(f"channel_{c}" for c in channels)])
    for r in rows:
        writer.writerow([r["rep_id"], r["team_id"], r["leads"], *(r["by_grade"].get(g, 0) for g in grades),
                         *(r["by_channel"].get(c, 0) for c in channels)])
    return out.getvalue()


CONTROLLERS = [OrgController, TeamController, RepController, TerritoryController, RulesController, LeadController,
               QueueController, ReportController]
