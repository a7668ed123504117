"""opportunity's reports over HTTP (销售漏斗, 排行榜, ROI, SDR 奖励), as JSON or CSV (the funnel also as an SVG or PNG
chart), and the plans they are judged by: channel spend and targets, loaded as JSON or CSV.

Who sees what: admin and finance everything; a manager his teams; a rep or an SDR his own figures."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.status_codes import HTTP_200_OK

from leadflow_opportunity import charts, views
from leadflow_opportunity.bootstrap import Opportunity
from leadflow_opportunity.db import PlanRepository
from leadflow_opportunity.domain.funnel import AMOUNTS, STEPS
from leadflow_opportunity.domain.plans import SpendRow, TargetRow, month_of, parse_rows
from leadflow_opportunity.http import ANY_STAFF, refuse
from leadflow_opportunity.reports import Reports
from leadflow_shared.documents import parse_yaml
from leadflow_shared.http import csv_response, language
from leadflow_shared.staff import Role, Staff, staff_roles

PLANNERS = staff_roles(Role.manager, Role.admin, Role.finance)
Many = FromQuery[list[str] | None]
From = Annotated[date | None, QueryParameter(name="from", description="First day (default: this month's first).")]
To = Annotated[date | None, QueryParameter(description="Last day, inclusive (default: today).")]
Month = Annotated[str | None, QueryParameter(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (default: this month)")]
TheMonth = Annotated[str | None, QueryParameter(name="month", pattern=r"^\d{4}-\d{2}$",
                                                description="YYYY-MM (default: this month)")]


def month(value: str | None, default: date) -> date:
    """A query's month (YYYY-MM), or 400 in the caller's terms."""
    if value is None:
        return default.replace(day=1)
    try:
        first = month_of(value)
    except ValueError:
        first = None
    if first is None or not 1970 <= first.year <= 2200:
        raise refuse(400, "bad_month", f"{value!r} is not a month (YYYY-MM, 1970 to 2200)",
                     f"{value!r} 不是有效月份（YYYY-MM，1970 至 2200 年）")
    return first


def reports(opportunity: Opportunity) -> Reports:
    return Reports(opportunity.db, opportunity.timezone, opportunity.pipelines)


def scope(staff: Staff) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(teams a caller's reports are limited to, None: all; reps they are limited to, empty: any)."""
    if staff.has(Role.admin, Role.finance):
        return None, ()
    if staff.has(Role.manager):
        return tuple(sorted(staff.teams)), ()
    return None, (staff.id,)


def report_filter(r: Reports, staff: Staff, start: date | None, end: date | None, source: list[str] | None,
                  partner: list[str] | None, rep: list[str] | None, team: list[str] | None) -> views.ReportFilter:
    end = end or r.today()
    start = start or end.replace(day=1)
    if start > end:
        raise refuse(400, "bad_period", "`from` is after `to`", "开始日期晚于结束日期")
    if start.year < 1970 or end.year > 2200:
        raise refuse(400, "bad_period", "report days lie between 1970 and 2200", "报表日期须在 1970 至 2200 年之间")
    if (end - start).days > 3660:
        raise refuse(400, "bad_period", "a report spans at most ten years", "报表时间跨度最多十年")
    teams, own = scope(staff)
    return views.ReportFilter(start, end, tuple(source or ()), tuple(partner or ()), tuple(own or rep or ()),
                              tuple(team or ()), scope_teams=teams)


class ReportController(Controller):
    path = "/v1/reports"
    tags = ["reports"]

    @get("/funnel", guards=[ANY_STAFF],
         summary="销售漏斗: lead → MQL → SQL → opportunity → won → realized, counts and rates per step, by source, "
                 "partner, rep, team or period; JSON, CSV, or a chart (format=svg|png)")
    async def funnel(self, request: Request[Any, Any, Any], opportunity: NamedDependency[Opportunity],
                     staff: NamedDependency[Staff], from_: From = None, to: To = None,
                     group: FromQuery[Literal["none", "source", "partner", "rep", "team", "day", "week", "month"]] = "none",
                     source: Many = None, partner: Many = None, rep: Many = None, team: Many = None,
                     format: FromQuery[Literal["json", "csv", "svg", "png"]] = "json") -> Response[Any]:
        r = reports(opportunity)
        flt = report_filter(r, staff, from_, to, source, partner, rep, team)
        lang = language(request)
        report = await r.funnel(flt, group, lang)
        if format == "csv":
            return _funnel_csv(report)
        if format in ("svg", "png"):
            return await _funnel_chart(report, format, lang)
        return Response(report)

    @get("/time-in-stage", guards=[ANY_STAFF],
         summary="Average days deals spent in each stage, and days from a lead's receipt to each funnel step")
    async def time_in_stage(self, request: Request[Any, Any, Any], opportunity: NamedDependency[Opportunity],
                            staff: NamedDependency[Staff], from_: From = None, to: To = None, rep: Many = None,
                            team: Many = None) -> dict[str, Any]:
        r = reports(opportunity)
        return await r.time_in_stage(report_filter(r, staff, from_, to, None, None, rep, team), language(request))

    @get("/channel-roi", guards=[PLANNERS],
         summary="Channel ROI: each source's (or partner's) leads, deals and realized revenue against its spend; "
                 "JSON or CSV (staff: manager, admin, finance)")
    async def channel_roi(self, opportunity: NamedDependency[Opportunity], staff: NamedDependency[Staff],
                          from_: From = None, to: To = None, source: Many = None,
                          by: FromQuery[Literal["source", "partner"]] = "source",
                          format: FromQuery[Literal["json", "csv"]] = "json") -> Response[Any]:
        r = reports(opportunity)
        flt = report_filter(r, staff, from_, to, source, None, None, None)
        flt = views.ReportFilter(flt.start, flt.end, flt.sources)  # spend is the company's: every team counts
        report = await r.channel_roi(flt, by == "partner")
        if format == "csv":
            columns = ["source", *(["partner_id"] if by == "partner" else []), *STEPS, *AMOUNTS, "spend", "currency",
                       "cost_per_lead", "cost_per_opportunity", "cost_per_won", "roi"]
            rows = [*report["channels"], *([report["total"]] if report["total"] else [])]
            return csv_response(columns, [[row.get(c) for c in columns] for row in rows], "channel-roi")
        return Response(report)

    @get("/leaderboard", guards=[ANY_STAFF],
         summary="排行榜: reps (or teams) by realized new sales (新签业绩, from the first payment) or conversion "
                 "rate, against their month's target with attainment; JSON or CSV")
    async def leaderboard(self, opportunity: NamedDependency[Opportunity], staff: NamedDependency[Staff],
                          month_: TheMonth = None,
                          by: FromQuery[Literal["rep", "team"]] = "rep",
                          sort: FromQuery[Literal["realized", "conversion_rate", "attainment"]] = "realized",
                          format: FromQuery[Literal["json", "csv"]] = "json") -> Response[Any]:
        r = reports(opportunity)
        teams, own = scope(staff)
        if own:  # a rep sees the boards of his teams
            teams = tuple(sorted(staff.teams))
        report = await r.leaderboard(month(month_, r.today()), by, teams, sort)
        if format == "csv":
            columns = ["rank", "id", "realized", "target", "attainment", "realized_deals", "won", "won_amount",
                       "opportunities", "leads", "converted", "conversion_rate"]
            return csv_response(columns, [[row.get(c) for c in columns] for row in report["rows"]],
                                f"leaderboard-{report['month']}-{by}")
        return Response(report)

    @get("/sdr-credit", guards=[ANY_STAFF],
         summary="SDR 奖励: per SDR, the leads he qualified and the opportunities, wins and realized revenue they "
                 "became; JSON or CSV (an SDR sees his own)")
    async def sdr_credit(self, opportunity: NamedDependency[Opportunity], staff: NamedDependency[Staff],
                         from_: From = None, to: To = None,
                         format: FromQuery[Literal["json", "csv"]] = "json") -> Response[Any]:
        r = reports(opportunity)
        flt = report_filter(r, staff, from_, to, None, None, None, None)
        _, own = scope(staff)
        report = await r.sdr_credit(flt, own[0] if own else None)
        if format == "csv":
            columns = ["rank", "id", "handed_over", "opportunities", "won", "won_amount", "realized_deals", "realized"]
            return csv_response(columns, [[row.get(c) for c in columns] for row in report["rows"]], "sdr-credit")
        return Response(report)


def _funnel_csv(report: dict[str, Any]) -> Response[str]:
    header = ["group", *STEPS, *(f"{s}_rate" for s in STEPS[1:]), *AMOUNTS]
    groups = report["groups"] or [{"group": "all", "steps": report["steps"],
                                   **{a: report[a] for a in AMOUNTS}}]
    rows = [[g["group"], *(s["count"] for s in g["steps"]), *(s["rate"] for s in g["steps"][1:]),
             *(g[a] for a in AMOUNTS)] for g in groups]
    return csv_response(header, rows, f"funnel-{report['from']}-{report['to']}")


async def _funnel_chart(report: dict[str, Any], format: str, lang: str) -> Response[bytes]:
    bars = [charts.FunnelBar(s["label"], s["count"], s["rate"]) for s in report["steps"]]
    title = "销售漏斗" if lang == "zh" else "Sales funnel"
    subtitle = f"{report['from']} – {report['to']}"
    render = charts.funnel_svg if format == "svg" else charts.funnel_png
    body = await anyio.to_thread.run_sync(lambda: render(bars, title=title, subtitle=subtitle, language=lang))
    return Response(body, media_type="image/svg+xml" if format == "svg" else "image/png")


# ---- plans: channel spend and targets ------------------------------------------------------------------

async def plan_body(request: Request[Any, Any, Any]) -> Any:
    """Rows as JSON, or CSV text (Content-Type: text/csv)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    if "csv" in (request.headers.get("content-type") or ""):
        return raw
    return parse_yaml(raw)  # YAML reads JSON too, with errors that say where


class PlanController(Controller):
    path = "/v1"
    tags = ["reports"]

    @post("/channel-spend", status_code=HTTP_200_OK, guards=[PLANNERS],
          summary="Load channel spend per month (month, source, partner_id, amount, currency) as JSON rows or CSV; "
                  "a row for a known month and channel replaces it (staff: manager, admin, finance)")
    async def load_spend(self, request: Request[Any, Any, Any], opportunity: NamedDependency[Opportunity],
                         staff: NamedDependency[Staff]) -> dict[str, Any]:
        rows = parse_rows(SpendRow, await plan_body(request))
        async with opportunity.db.uow() as uow:
            await PlanRepository(uow.session).put_spend([r.model_dump() for r in rows], staff.id)
            await uow.commit()
        return {"loaded": len(rows)}

    @get("/channel-spend", guards=[PLANNERS], summary="Channel spend of the months between from and to (YYYY-MM)")
    async def spend(self, opportunity: NamedDependency[Opportunity], from_: Annotated[
                        str | None, QueryParameter(name="from", pattern=r"^\d{4}-\d{2}$")] = None,
                    to: Month = None) -> list[dict[str, Any]]:
        r = reports(opportunity)
        last = month(to, r.today())
        first = month(from_, last.replace(month=1))
        return await views.spend_of(opportunity.db, first, last)

    @post("/targets", status_code=HTTP_200_OK, guards=[PLANNERS],
          summary="Load targets of realized new sales (业绩目标) per rep and team per month (month, kind, subject_id, "
                  "team_id, amount) as JSON rows or CSV; a manager sets his teams' targets")
    async def load_targets(self, request: Request[Any, Any, Any], opportunity: NamedDependency[Opportunity],
                           staff: NamedDependency[Staff]) -> dict[str, Any]:
        rows = parse_rows(TargetRow, await plan_body(request))
        if not staff.has(Role.admin, Role.finance):
            for i, row in enumerate(rows):
                team = row.subject_id if row.kind == "team" else row.team_id
                if team is None or team not in staff.teams:
                    raise refuse(403, "not_your_team", f"row {i}: you set targets of your teams only (team_id)",
                                 f"第 {i} 行：您只能设置所管理团队的目标（team_id）")
        async with opportunity.db.uow() as uow:
            await PlanRepository(uow.session).put_targets([r.model_dump() for r in rows], staff.id)
            await uow.commit()
        return {"loaded": len(rows)}

    @get("/targets", guards=[ANY_STAFF], summary="The month's targets per rep and team (YYYY-MM)")
    async def targets(self, opportunity: NamedDependency[Opportunity], staff: NamedDependency[Staff],
                      month_: TheMonth = None
                      ) -> list[dict[str, Any]]:
        r = reports(opportunity)
        first = month(month_, r.today())
        rows = await views.targets_of(opportunity.db, first)
        teams, own = scope(staff)
        if own:
            teams = tuple(staff.teams)
        if teams is None:
            return rows
        return [row for row in rows if (row["subject_id"] if row["kind"] == "team" else row["team_id"]) in teams]


CONTROLLERS = [ReportController, PlanController]
