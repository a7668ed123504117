"""The reports managers read (销售漏斗, 排行榜, ROI, SDR 奖励), composed from the read side (views.py) and the
funnel's rules (domain/funnel.py). Periods are days and months of the report timezone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from leadflow_opportunity import views
from leadflow_opportunity.domain.plans import month_bounds
from leadflow_opportunity.domain.funnel import AMOUNTS, STEPS, attainment, per, rank, roi, steps
from leadflow_opportunity.pipelines import PipelineCatalogue
from leadflow_shared.db import Database


@dataclass
class Reports:
    db: Database
    timezone: ZoneInfo
    pipelines: PipelineCatalogue

    def today(self) -> date:
        return datetime.now(self.timezone).date()

    def instant(self, day: date) -> datetime:
        """The day's first moment in the report timezone."""
        return datetime.combine(day, time(), self.timezone)

    # ---- the funnel ----------------------------------------------------------------------------------

    async def funnel(self, flt: views.ReportFilter, group: str, language: str) -> dict[str, Any]:
        rows = await views.funnel(self.db, flt, group)
        total = {m: sum(r[m] for r in rows) for m in (*STEPS, *AMOUNTS)}
        return {"from": flt.start, "to": flt.end, "group": group,
                "steps": [asdict(s) for s in steps(total, language)],
                **{a: round(total[a], 2) for a in AMOUNTS},
                "groups": [{"group": r["group"], "steps": [asdict(s) for s in steps(r, language)],
                            **{a: round(r[a], 2) for a in AMOUNTS}} for r in rows] if group != "none" else []}

    async def time_in_stage(self, flt: views.ReportFilter, language: str) -> dict[str, Any]:
        figures = await views.time_in_stage(self.db, flt)
        async with self.db.uow() as uow:
            pipeline = await self.pipelines.current(uow.session)
        order = {s.id: i for i, s in enumerate(pipeline.stages)}
        stages = sorted(figures["stages"], key=lambda r: (order.get(r["stage"], len(order)), r["stage"]))
        for row in stages:
            stage = pipeline.stage(row["stage"])
            row["label"] = stage.label(language) if stage else row["stage"]
        return {"from": flt.start, "to": flt.end, "stages": stages, "days_from_receipt": figures["from_receipt"]}

    # ---- channel ROI ---------------------------------------------------------------------------------

    async def channel_roi(self, flt: views.ReportFilter, by_partner: bool) -> dict[str, Any]:
        rows = await views.channel_figures(self.db, flt)
        if not by_partner:
            rows = _merge(rows, ("source",))
        out = [_roi_row(r, by_partner) for r in rows]
        out.sort(key=lambda r: (-(r["realized_amount"]), -r["leads"], r["source"], r.get("partner_id") or ""))
        total = _roi_row(_merge(rows, ())[0], False) if rows else None
        if total is not None:
            total["source"] = "(all)"
        return {"from": flt.start, "to": flt.end, "by": "partner" if by_partner else "source", "channels": out,
                "total": total}

    # ---- the leaderboard and SDR credit --------------------------------------------------------------

    async def leaderboard(self, month: date, by: str, scope_teams: Sequence[str] | None,
                          sort: str) -> dict[str, Any]:
        first, last = month_bounds(month)
        column = "owner_id" if by == "rep" else "team_id"
        realized = await views.realized_by(self.db, column, self.instant(first), self.instant(last + timedelta(days=1)),
                                           scope_teams)
        flt = views.ReportFilter(first, last, scope_teams=tuple(scope_teams) if scope_teams is not None else None)
        cohorts = await views.cohort_counts_by(self.db, column, flt)
        goals = _goals(await views.targets_of(self.db, first), by, scope_teams)
        rows = []
        for who in sorted(set(realized) | set(cohorts) | set(goals)):
            made, counted = realized.get(who, {}), cohorts.get(who, {})
            target = goals.get(who)
            actual = float(made.get("realized", 0.0))
            leads = counted.get("leads", 0)
            rows.append({"id": who, "realized": actual, "realized_deals": made.get("realized_deals", 0),
                         "won": made.get("won", 0), "won_amount": made.get("won_amount", 0.0),
                         "opportunities": made.get("opportunities", 0), "leads": leads,
                         "converted": counted.get("opportunities", 0),
                         "conversion_rate": _rate(counted.get("opportunities", 0), leads),
                         "target": target, "attainment": attainment(actual, target)})
        return {"month": first.isoformat()[:7], "by": by, "sort": sort, "rows": rank(rows, sort)}

    async def sdr_credit(self, flt: views.ReportFilter, scope_sdr: str | None) -> dict[str, Any]:
        start, end = self.instant(flt.start), self.instant(flt.end + timedelta(days=1))
        made = await views.realized_by(self.db, "sdr_id", start, end, flt.scope_teams)
        handed = await views.qualified_by(self.db, start, end, flt.scope_teams)
        rows = []
        for sdr in sorted(set(made) | set(handed)):
            if scope_sdr is not None and sdr != scope_sdr:
                continue
            m = made.get(sdr, {})
            rows.append({"id": sdr, "handed_over": handed.get(sdr, 0), "opportunities": m.get("opportunities", 0),
                         "won": m.get("won", 0), "won_amount": m.get("won_amount", 0.0),
                         "realized_deals": m.get("realized_deals", 0), "realized": m.get("realized", 0.0)})
        return {"from": flt.start, "to": flt.end, "rows": rank(rows, "realized")}


def _rate(part: float, whole: float) -> float | None:
    return None if not whole else round(part / whole, 4)


def _merge(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        k = tuple(row[key] for key in keys)
        into = merged.setdefault(k, {**{key: row[key] for key in keys}, "spend": 0.0, "currency": None,
                                     **{m: 0.0 for m in (*STEPS, *AMOUNTS)}})
        for m in (*STEPS, *AMOUNTS, "spend"):
            into[m] += row.get(m) or 0.0
        into["currency"] = into["currency"] or row.get("currency")
    return list(merged.values())


def _roi_row(row: dict[str, Any], by_partner: bool) -> dict[str, Any]:
    spend, revenue = row["spend"], row["realized_amount"]
    out = {"source": row.get("source")}
    if by_partner:
        out["partner_id"] = row.get("partner_id") or None
    out.update({m: int(row[m]) for m in STEPS})
    out.update(won_amount=round(row["won_amount"], 2), realized_amount=round(revenue, 2), spend=round(spend, 2),
               currency=row.get("currency"), cost_per_lead=per(spend, row["leads"]),
               cost_per_opportunity=per(spend, row["opportunities"]), cost_per_won=per(spend, row["won"]),
               roi=roi(revenue, spend))
    return out


def _goals(rows: list[dict[str, Any]], by: str, scope_teams: Sequence[str] | None) -> dict[str, float]:
    """Each rep's or team's target; a team without its own sums its reps' targets."""
    goals: dict[str, float] = {}
    for row in rows:
        team = row["subject_id"] if row["kind"] == "team" else row["team_id"]
        if scope_teams is not None and team not in scope_teams:
            continue
        if row["kind"] == by:
            goals[row["subject_id"]] = float(row["amount"])
    if by == "team":
        summed: dict[str, float] = {}
        for row in rows:
            if row["kind"] == "rep" and row["team_id"] and (scope_teams is None or row["team_id"] in scope_teams):
                summed[row["team_id"]] = summed.get(row["team_id"], 0.0) + float(row["amount"])
        for team, amount in summed.items():
            goals.setdefault(team, amount)
    return goals
