"""A manager's pages: the manual queue (assign), transfers, batch distribution, the distribution per rep, the
collusion and mock-location flags, the funnel with its filters, the leaderboard, partner submissions and the
assignment rules' simulation (current against proposed). Managers of their teams; admins of all."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

from litestar.di import NamedDependency
from litestar import Request, get, post
from litestar.response import Redirect, Template

from leadflow_console.domain import forms
from leadflow_console.http import FormData, form_lists
from leadflow_console.http_rep import attempt
from leadflow_console.pages import PageController, Viewer, api_failure, redirect, render


async def my_teams(viewer: NamedDependency[Viewer]) -> list[dict[str, Any]]:
    """The teams a manager manages (an admin: every team), each with its queue's name."""
    teams = await viewer.caller.get("assignment", "/v1/teams/")
    mine = [t for t in teams if "admin" in viewer.roles or t["id"] in viewer.teams]
    return [{**t, "queue_name": t.get("queue") or f"{t['id']}-queue"} for t in mine]


async def team_reps(viewer: NamedDependency[Viewer], teams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = await asyncio.gather(*(viewer.caller.get("assignment", "/v1/reps/", {"team": t["id"]}) for t in teams))
    return [rep for reps in found for rep in reps]


def query_form(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    return {k: request.query_params.getall(k) for k in request.query_params}


class ManagerController(PageController):
    path = "/manage"

    @get("/queue")
    async def queue(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        viewer.require_manager()
        teams = await my_teams(viewer)
        waiting = await asyncio.gather(*(viewer.caller.get("assignment", f"/v1/queues/{t['queue_name']}/leads")
                                         for t in teams))
        reps = await team_reps(viewer, teams)
        queues = [{"team": t, "leads": leads} for t, leads in zip(teams, waiting, strict=True)]
        return render(request, "manage_queue.html", viewer, queues=queues, reps=reps)

    @post("/queue/{lead_id:uuid}/assign")
    async def assign(self, viewer: NamedDependency[Viewer], lead_id: uuid.UUID, data: FormData) -> Redirect:
        viewer.require_manager()
        parsed = forms.assign(form_lists(data))
        if not parsed.ok:
            return redirect("/manage/queue", error=f"{viewer.t('queue.choose_rep')}: {viewer.t('error.required')}")
        _, failure = await attempt(viewer.caller.post("assignment", f"/v1/leads/{lead_id}/assign", parsed.body))
        if failure:
            return redirect("/manage/queue", error=api_failure(failure))
        return redirect("/manage/queue", ok="assigned")

    @get("/transfers")
    async def transfers(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer], lead: str | None = None) -> Template:
        viewer.require_manager()
        pools = await viewer.caller.get("pool", "/v1/pools/")
        return render(request, "manage_transfers.html", viewer, pools=pools, values={"lead_id": lead or ""},
                      errors={})

    @post("/transfers")
    async def transfer(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer], data: FormData) -> Any:
        viewer.require_manager()
        parsed = forms.transfer(form_lists(data))
        if not parsed.ok:
            pools = await viewer.caller.get("pool", "/v1/pools/")
            return render(request, "manage_transfers.html", viewer, status_code=422, pools=pools, values=data,
                          errors=parsed.errors)
        body = dict(parsed.body)
        lead_id = body.pop("lead_id")
        result, failure = await attempt(viewer.caller.post("pool", f"/v1/leads/{lead_id}/transfer", body))
        if failure:
            return redirect(f"/manage/transfers?lead={lead_id}", error=api_failure(failure))
        return redirect(f"/leads/{lead_id}", ok="transferred")

    @get("/distribute")
    async def distribute_form(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        viewer.require_manager()
        teams = await my_teams(viewer)
        return render(request, "manage_distribute.html", viewer, teams=teams, reps=await team_reps(viewer, teams),
                      errors={}, values={})

    @post("/distribute")
    async def distribute(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer], data: FormData) -> Any:
        viewer.require_manager()
        form = form_lists(data)
        parsed = forms.distribute(form)
        team = forms.one(form, "team")
        teams = await my_teams(viewer)
        if team not in {t["id"] for t in teams}:
            parsed.errors["team"] = "error.choose"
        if not parsed.ok:
            return render(request, "manage_distribute.html", viewer, status_code=422, teams=teams,
                          reps=await team_reps(viewer, teams), errors=parsed.errors, values=form)
        result, failure = await attempt(viewer.caller.post("assignment", f"/v1/teams/{team}/distribute", parsed.body))
        if failure:
            return redirect("/manage/distribute", error=api_failure(failure))
        count = result.get("assigned") if isinstance(result.get("assigned"), int) else len(result.get("assigned") or [])
        return redirect("/manage/distribution", ok=f"distributed|{count}")

    @get("/distribution")
    async def distribution(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        viewer.require_manager()
        teams = await my_teams(viewer)
        reports = await asyncio.gather(*(viewer.caller.get("assignment", "/v1/reports/distribution", {"team": t["id"]})
                                         for t in teams))
        loads = {r["id"]: r for r in await team_reps(viewer, teams)}
        rows = [{**rep, "load": loads.get(rep["rep_id"], {})} for report in reports for rep in report["reps"]]
        return render(request, "manage_distribution.html", viewer, rows=rows, reps=list(loads.values()))

    @get("/flags")
    async def flags(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        viewer.require_manager()
        (collusion, collusion_failure), (mock, mock_failure) = await asyncio.gather(
            attempt(viewer.caller.get("pool", "/v1/reports/collusion")),
            attempt(viewer.caller.get("pool", "/v1/reports/mock-locations")))
        return render(request, "manage_flags.html", viewer, collusion=collusion, mock=mock,
                      failures=[api_failure(f) for f in (collusion_failure, mock_failure) if f])

    @get("/funnel")
    async def funnel(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        viewer.require_manager()
        query = forms.funnel_query(query_form(request))
        params = query.body if query.ok else {"group": "none"}
        report, chart = await asyncio.gather(
            viewer.caller.get("opportunity", "/v1/reports/funnel", params),
            attempt(viewer.caller.text("opportunity", "/v1/reports/funnel", {**params, "format": "svg"})))
        picture = base64.b64encode(chart[0].encode()).decode() if chart[0] else None
        return render(request, "manage_funnel.html", viewer, report=report, chart=picture, query=query.body,
                      errors=query.errors, groups=forms.FUNNEL_GROUPS)

    @get("/leaderboard")
    async def leaderboard(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        viewer.require_manager()
        board = await viewer.caller.get("opportunity", "/v1/reports/leaderboard")
        return render(request, "manage_leaderboard.html", viewer, board=board)

    @get("/partners")
    async def partners(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        viewer.require_manager()
        form = query_form(request)
        params = {k: forms.one(form, k) for k in ("from", "to") if forms.one(form, k)}
        report = await viewer.caller.get("intake", "/v1/reports/submissions", params)
        return render(request, "manage_partners.html", viewer, report=report)

    @get("/rules")
    async def rules(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        viewer.require_manager()
        current = await viewer.caller.text("assignment", "/v1/rules/", {"format": "yaml"})
        return render(request, "manage_rules.html", viewer, rules=current, result=None, errors={}, values={})

    @post("/rules")
    async def simulate(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer], data: FormData) -> Template:
        viewer.require_manager()
        parsed = forms.simulate(form_lists(data))
        result, failure = None, None
        if parsed.ok:
            result, failure = await attempt(viewer.caller.post("assignment", "/v1/rules/simulate", parsed.body))
        return render(request, "manage_rules.html", viewer, status_code=200 if parsed.ok and not failure else 422,
                      rules=forms.one(form_lists(data), "rules"), result=result, errors=parsed.errors, values=data,
                      failure=failure and api_failure(failure))
