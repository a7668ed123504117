"""scoring's HTTP API: scores, activities, rules (with simulation) and predictive models.

Partners post activities with an API key (`leadflow scoring keys create NAME`, `Authorization: Bearer <key>`).
Staff read scores and manage rules and models with a staff token (leadflow_shared.staff; `leadflow staff
token` locally): every rep, SDR, manager and admin reads scores; managers and admins read, check and
simulate rules and read the models; only admins change the rules or the active model.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_422_UNPROCESSABLE_ENTITY
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from leadflow_scoring import views
from leadflow_scoring.bootstrap import Scoring
from leadflow_scoring.db import ApiKeyRepository, ModelRepository, RuleSetRepository
from leadflow_scoring.domain.model import Caller
from leadflow_scoring.domain.rules import Problem, RuleSet, RulesError
from leadflow_scoring.domain.rules_yaml import load_rules_yaml
from leadflow_scoring.domain.scorer import model_features
from leadflow_scoring.domain.simulation import Simulation
from leadflow_shared.auth import hash_key
from leadflow_shared.contacts import contact_keys
from leadflow_shared.contracts import LEADS_ACTIVITY, LeadActivity
from leadflow_shared.staff import Role, Staff, staff_roles

MAX_ACTIVITIES = 1000
PARTNER = {"auth": "partner"}  # handlers called with a partner's API key, not a staff token
ANY_STAFF = staff_roles(Role.rep, Role.sdr, Role.manager, Role.admin)
MANAGERS = staff_roles(Role.manager, Role.admin)
ADMINS = staff_roles(Role.admin)


async def provide_caller(request: Request[Any, Any, Any], scoring: NamedDependency[Scoring]) -> Caller:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthorizedException("an API key is needed: Authorization: Bearer <key>")
    key_hash = hash_key(key.strip())
    known, caller = scoring.key_cache.get(key_hash)
    if not known:
        async with scoring.db.uow() as uow:
            row = await ApiKeyRepository(uow.session).by_hash(key_hash)
        caller = Caller(row["id"], row["name"], row["role"]) if row and row["revoked_at"] is None else None
        scoring.key_cache.put(key_hash, caller)
    if caller is None:
        raise NotAuthorizedException("unknown or revoked API key")
    if caller.role != "partner":
        raise PermissionDeniedException("API keys are for partners; staff use a staff token (`leadflow staff token`)")
    return caller


def _problems(errors: list[dict[str, Any]]) -> Response[dict[str, Any]]:
    return Response({"errors": errors}, status_code=HTTP_422_UNPROCESSABLE_ENTITY)


# ---- scores --------------------------------------------------------------------------------------

class ScoreView(BaseModel):
    lead_id: uuid.UUID
    score: float
    grade: str
    stage: str
    probability: float | None
    explanation: list[dict[str, Any]]
    rules_version: str
    model_version: str | None
    enrichment: dict[str, Any] | None
    activity_counts: dict[str, int]
    last_activity_at: datetime | None
    scored_at: datetime
    predictive_factors: list[dict[str, Any]] = Field(
        default_factory=list, description="The model's top factors for this lead, in probability points.")


class ScoreController(Controller):
    path = "/v1/leads"
    tags = ["scores"]

    @get("/{lead_id:uuid}/score", guards=[ANY_STAFF],
         summary="A lead's score, grade, stage, probability and why (staff: rep, sdr, manager, admin)")
    async def show(self, lead_id: FromPath[uuid.UUID], scoring: NamedDependency[Scoring]) -> ScoreView:
        row = await views.score(scoring.db, lead_id)
        if row is None:
            raise NotFoundException(f"lead {lead_id} has not been scored")
        model = getattr(scoring.scorer.current, "model", None)
        if model is not None and model.version == row["model_version"]:  # explained on read: it costs ~1 ms
            row["predictive_factors"] = [{"feature": f, "points": round(100 * c, 1)}
                                         for f, c in model.explain(model_features(row), top=3)]
        return ScoreView.model_validate(row)


# ---- activities ----------------------------------------------------------------------------------

class ActivityIn(BaseModel):
    """Something a lead did. Give `activity_id` to make retries safe; name the lead by id or contact."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "activity_id": "5b1f2c1e-9f1a-4c59-8f0e-3f7d1c2b4a10", "mobile": "+86 138 0013 8000", "type": "page_view",
        "url": "https://example.cn/pricing", "occurred_at": "2026-11-23T10:15:00+08:00",
        "attributes": {"utm_source": "baidu"}}]})

    activity_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    mobile: str | None = Field(None, max_length=40)
    wechat: str | None = Field(None, max_length=60)
    email: str | None = Field(None, max_length=254)
    type: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$",
                      description="page_view, demo_request, trial_signup, form_submit, email_open, email_click, "
                                  "template_message_click, wechat_friend_added, wechat_article_read, community_active, "
                                  "event_attended, call_connected, unsubscribe, or a custom snake_case type.")
    url: str | None = Field(None, max_length=2000)
    occurred_at: AwareDatetime | None = Field(None, description="Defaults to now.")
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=50)


FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks drift; an activity "tomorrow" is a bug


def _activity(raw: Any) -> LeadActivity | list[dict[str, Any]]:
    try:
        item = ActivityIn.model_validate(raw)
    except ValidationError as exc:
        return [{"field": ".".join(str(p) for p in e["loc"]) or "body", "code": e["type"], "message": e["msg"]}
                for e in exc.errors()]
    if "\x00" in json.dumps(raw, default=str):  # Postgres text and jsonb cannot hold NUL
        return [{"field": "body", "code": "invalid_character", "message": "NUL characters are not allowed"}]
    if item.occurred_at and item.occurred_at > datetime.now(UTC) + FUTURE_TOLERANCE:
        return [{"field": "occurred_at", "code": "in_the_future", "message": "occurred_at is in the future"}]
    if not item.lead_id and not contact_keys(item.mobile, item.wechat, item.email):
        code = "invalid_contact" if item.mobile or item.wechat or item.email else "missing_lead"
        return [{"field": "lead_id", "code": code,
                 "message": "name the lead: lead_id, or a valid mobile, wechat or email"}]
    return LeadActivity(activity_id=item.activity_id or uuid.uuid4(), lead_id=item.lead_id, mobile=item.mobile,
                        wechat=item.wechat, email=item.email, type=item.type, url=item.url,
                        occurred_at=item.occurred_at or datetime.now(UTC), attributes=item.attributes)


def _key(activity: LeadActivity) -> str:
    """The lead id, else the person's first contact: one person's activities stay on one partition, in order."""
    keys = contact_keys(activity.mobile, activity.wechat, activity.email)
    return str(activity.lead_id or (keys[0] if keys else activity.activity_id))


class ActivityController(Controller):
    path = "/v1/activities"
    tags = ["activities"]
    dependencies = {"caller": Provide(provide_caller)}
    opt = PARTNER

    @post("/", status_code=HTTP_202_ACCEPTED, summary="Record activities (one, or up to 1,000 as {activities: [...]})",
          description="Each accepted activity is published on leads.activity.v1 and scored from there; an "
                      "activity whose lead has not arrived yet waits for it. A bad item never sinks the others.")
    async def record(self, data: dict[str, Any], caller: NamedDependency[Caller],
                     scoring: NamedDependency[Scoring]) -> Response[dict[str, Any]]:
        items = data["activities"] if isinstance(data.get("activities"), list) else [data]
        if len(items) > MAX_ACTIVITIES:
            return _problems([{"field": "activities", "code": "too_many",
                               "message": f"at most {MAX_ACTIVITIES} activities per request"}])
        checked = [_activity(raw) for raw in items]
        accepted = [a for a in checked if isinstance(a, LeadActivity)]
        async with scoring.db.uow() as uow:
            await uow.publish_many([(LEADS_ACTIVITY, _key(a), a) for a in accepted])
            await uow.commit()
        results = [{"index": i, "status": "accepted", "activity_id": str(a.activity_id)} if isinstance(a, LeadActivity)
                   else {"index": i, "status": "rejected", "errors": a} for i, a in enumerate(checked)]
        return Response({"accepted": len(accepted), "rejected": len(checked) - len(accepted), "results": results},
                        status_code=HTTP_202_ACCEPTED if accepted or not checked else HTTP_422_UNPROCESSABLE_ENTITY)


# ---- rules ---------------------------------------------------------------------------------------

async def _rules_from(request: Request[Any, Any, Any]) -> tuple[str, RuleSet]:
    """The request body as a rule set; RulesError (422 by `rules_problem`) lists whatever is wrong."""
    try:
        text = (await request.body()).decode("utf-8-sig")  # strictly: a GBK file would lose every Chinese word
    except UnicodeDecodeError as exc:
        raise RulesError([Problem("body", "rules must be UTF-8 text")]) from exc
    try:
        return text, load_rules_yaml(text)
    except RecursionError as exc:
        raise RulesError([Problem("body", "the YAML is nested too deeply")]) from exc


def rules_problem(request: Request[Any, Any, Any], exc: RulesError) -> Response[dict[str, Any]]:
    return _problems([{"field": p.path, "code": "invalid_rule", "message": p.message} for p in exc.problems])


class RulesController(Controller):
    path = "/v1/rules"
    tags = ["rules"]

    @get("/", guards=[MANAGERS], summary="The active rule set (YAML) and the versions kept (staff: manager, admin)")
    async def show(self, scoring: NamedDependency[Scoring]) -> dict[str, Any]:
        active, versions = await views.rule_sets_kept(scoring.db)
        return {"active_version": active["version"] if active else None, "yaml": active["yaml"] if active else None,
                "versions": versions}

    @put("/", guards=[ADMINS], summary="Load and activate a rule set: the YAML as the request body (staff: admin)",
         description="422 lists every problem with its path (e.g. fit[2].when.field). Leads are re-scored under "
                     "the new rules by the periodic job (`leadflow scoring rescore` does it at once).")
    async def replace(self, request: Request[Any, Any, Any], staff: NamedDependency[Staff],
                      scoring: NamedDependency[Scoring]) -> Response[dict[str, Any]]:
        text, rules = await _rules_from(request)
        async with scoring.db.uow() as uow:
            repo = RuleSetRepository(uow.session)
            if not await repo.store(rules.version, text, staff.id):
                return _problems([{"field": "version", "code": "version_taken",
                                   "message": f"version {rules.version} exists with other rules: give a new version"}])
            await repo.activate(rules.version)
            await uow.commit()
        await scoring.watcher.round()  # this replica at once; others within seconds
        return Response({"active_version": rules.version}, status_code=200)

    @post("/validate", status_code=200, guards=[MANAGERS],
          summary="Check a rule set without loading it (staff: manager, admin)")
    async def validate(self, request: Request[Any, Any, Any]) -> Response[Any]:
        _, rules = await _rules_from(request)
        return Response({"valid": True, "version": rules.version}, status_code=200)

    @post("/simulate", status_code=200, guards=[MANAGERS],
          summary="How a rule set would re-grade the current leads (staff: manager, admin)",
          description="Nothing is changed: every lead is scored from its history under the proposed rules and "
                      "compared with its current grade and stage.")
    async def simulate(self, request: Request[Any, Any, Any], scoring: NamedDependency[Scoring]) -> Response[Any]:
        _, rules = await _rules_from(request)
        simulation, after, now = Simulation(rules.version), None, datetime.now(UTC)
        while True:
            page = await views.leads_with_history(scoring.db, after, 1000)
            for lead in page:
                simulation.add(lead, rules, now)
            if len(page) < 1000:
                return Response(simulation.report(), status_code=200)
            after = page[-1]["lead_id"]


# ---- predictive models ---------------------------------------------------------------------------

class ModelController(Controller):
    path = "/v1/models"
    tags = ["models"]

    @get("/", guards=[MANAGERS], summary="Predictive models kept, and which is active (staff: manager, admin)")
    async def list_models(self, scoring: NamedDependency[Scoring]) -> dict[str, Any]:
        return {"models": await views.predictive_models(scoring.db)}

    @post("/{version:str}/activate", status_code=200, guards=[ADMINS],
          summary="Make a model the active one (hot swap; staff: admin)")
    async def activate(self, version: FromPath[str], scoring: NamedDependency[Scoring]) -> dict[str, Any]:
        async with scoring.db.uow() as uow:
            if not await ModelRepository(uow.session).activate(version):
                raise NotFoundException(f"no model {version}")
            await uow.commit()
        await scoring.watcher.round()
        return {"active_version": version}
