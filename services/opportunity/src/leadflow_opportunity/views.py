"""opportunity's read side: the queries its API answers (leads, customers, opportunities, the pipeline) and
the reports (funnel, time in stage, channel ROI, leaderboard, SDR credit)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, and_, func, literal, or_, select, text, union_all
from sqlalchemy.sql import ColumnElement

from leadflow_opportunity.domain.funnel import DIMENSIONS, MEASURES, NONE
from leadflow_opportunity.domain.plans import next_month
from leadflow_opportunity.tables import (
    channel_spend, contacts, conversions, customers, funnel_cohorts, funnel_months, leads, opportunities, payments, stage_changes,
    targets,
)
from leadflow_shared.db import Database


async def _rows(db: Database, query: Any) -> list[dict[str, Any]]:
    async with db.uow() as uow:
        return [dict(r) for r in (await uow.session.execute(query)).mappings()]


async def _first(db: Database, query: Any) -> dict[str, Any] | None:
    rows = await _rows(db, query.limit(1))
    return rows[0] if rows else None


# ---- leads, customers, opportunities -------------------------------------------------------------------

async def lead(db: Database, lead_id: uuid.UUID) -> dict[str, Any] | None:
    row = await _first(db, select(leads).where(leads.c.lead_id == lead_id))
    if row is not None:
        row["conversion"] = await _first(db, select(conversions).where(conversions.c.lead_id == lead_id))
    return row


async def customer(db: Database, customer_id: uuid.UUID) -> dict[str, Any] | None:
    row = await _first(db, select(customers).where(customers.c.customer_id == customer_id))
    if row is None:
        return None
    row["contacts"] = await _rows(db, select(contacts).where(contacts.c.customer_id == customer_id)
                                  .order_by(contacts.c.created_at))
    row["opportunities"] = await _rows(db, select(opportunities).where(opportunities.c.customer_id == customer_id)
                                       .order_by(opportunities.c.created_at))
    row["lead_ids"] = [r["lead_id"] for r in await _rows(db, select(conversions.c.lead_id).where(
        conversions.c.customer_id == customer_id).order_by(conversions.c.converted_at))]
    return row


async def find_customers(db: Database, q: str, limit: int) -> list[dict[str, Any]]:
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return await _rows(db, select(customers).where(
        customers.c.name.ilike(pattern) | (customers.c.credit_code == q.upper()) | (customers.c.mobile == q))
        .order_by(customers.c.created_at).limit(limit))


async def opportunity(db: Database, opportunity_id: uuid.UUID) -> dict[str, Any] | None:
    row = await _first(db, select(opportunities).where(opportunities.c.opportunity_id == opportunity_id))
    if row is None:
        return None
    row["history"] = await _rows(db, select(stage_changes).where(stage_changes.c.opportunity_id == opportunity_id)
                                 .order_by(stage_changes.c.at, stage_changes.c.id))
    row["payments"] = await _rows(db, select(payments).where(payments.c.opportunity_id == opportunity_id)
                                  .order_by(payments.c.received_at))
    return row


@dataclass(frozen=True)
class OpportunityFilter:
    owners: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()


async def list_opportunities(db: Database, flt: OpportunityFilter, limit: int, offset: int) -> list[dict[str, Any]]:
    conditions = [column.in_(values) for column, values in (
        (opportunities.c.owner_id, flt.owners), (opportunities.c.team_id, flt.teams),
        (opportunities.c.status, flt.statuses), (opportunities.c.stage, flt.stages)) if values]
    return await _rows(db, select(opportunities).where(*conditions)
                       .order_by(opportunities.c.created_at.desc(), opportunities.c.opportunity_id)
                       .limit(limit).offset(offset))


# ---- reports -------------------------------------------------------------------------------------------

GROUPS = ("none", "source", "partner", "rep", "team", "day", "week", "month")
_GROUP_COLUMNS = {"source": "source", "partner": "partner_id", "rep": "owner_id", "team": "team_id"}


@dataclass(frozen=True)
class ReportFilter:
    """Which leads a report counts: received between `start` and `end` (inclusive, report timezone), from
    these sources, partners, reps and teams (empty: any)."""

    start: date
    end: date
    sources: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()
    reps: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    scope_teams: tuple[str, ...] | None = None  # a manager sees his teams only

    def conditions(self, c: Any) -> list[ColumnElement[bool]]:
        """The filter's dimensions on a cohort table's (or the cohorts subquery's) columns."""
        conditions = []
        for column, values in ((c.source, self.sources), (c.partner_id, self.partners), (c.owner_id, self.reps),
                               (c.team_id, self.teams)):
            if values:
                conditions.append(column.in_(values))
        if self.scope_teams is not None:
            conditions.append(c.team_id.in_(self.scope_teams))
        return conditions

    def cohorts(self, by_day: bool = False) -> Any:
        """The cohort sums the filter counts, as a subquery (day, dimensions, measures): whole months from
        funnel_months and only the days at the period's edges from funnel_cohorts; every day when `by_day`."""
        c, m = funnel_cohorts.c, funnel_months.c
        columns = [getattr(c, k) for k in (*DIMENSIONS, *MEASURES)]
        first_full = self.start if self.start.day == 1 else next_month(self.start)
        after_full = (self.end + timedelta(days=1)).replace(day=1)  # the month after the last whole one
        if by_day or first_full >= after_full:
            return select(c.day, *columns).where(c.day.between(self.start, self.end), *self.conditions(c)).subquery()
        edges = or_(and_(c.day >= self.start, c.day < first_full), and_(c.day >= after_full, c.day <= self.end))
        days = select(c.day, *columns).where(edges, *self.conditions(c))
        months = select(m.month.label("day"), *(getattr(m, k) for k in (*DIMENSIONS, *MEASURES))).where(
            m.month >= first_full, m.month < after_full, *self.conditions(m))
        return union_all(days, months).subquery()


async def funnel(db: Database, flt: ReportFilter, group: str = "none") -> list[dict[str, Any]]:
    """The funnel's figures per group (one row with group `all` when not grouped), biggest first."""
    c = flt.cohorts(by_day=group in ("day", "week")).c
    key = _group_key(c, group)
    sums = [func.sum(getattr(c, m)).label(m) for m in MEASURES]
    rows = await _rows(db, select(key.label("group"), *sums).group_by(key))
    for row in rows:
        for m in MEASURES:
            row[m] = float(row[m] or 0) if m.endswith("amount") else int(row[m] or 0)
        row["group"] = _group_text(row["group"])
    return sorted(rows, key=lambda r: (-r["leads"], r["group"]))


def _group_key(c: Any, group: str) -> Any:
    if group in _GROUP_COLUMNS:
        return getattr(c, _GROUP_COLUMNS[group])
    if group in ("week", "month"):
        return func.date_trunc(group, c.day).cast(Date)
    if group == "day":
        return c.day
    return literal("all")


def _group_text(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    return value if value not in (None, NONE) else "(none)"


async def time_in_stage(db: Database, flt: ReportFilter) -> dict[str, Any]:
    """Average days a deal spent in each stage it left (opportunities created in the period), and the lead's
    average days from receipt to each funnel step."""
    stages_sql = text("""
        WITH moves AS (
            SELECT s.to_stage AS stage, s.at,
                   lead(s.at) OVER (PARTITION BY s.opportunity_id ORDER BY s.at, s.id) AS left_at
            FROM opportunity.stage_changes s JOIN opportunity.opportunities o USING (opportunity_id)
            WHERE o.created_at >= :start AND o.created_at < :end_excl
              AND (cardinality(CAST(:teams AS text[])) = 0 OR o.team_id = ANY(CAST(:teams AS text[])))
              AND (cardinality(CAST(:reps AS text[])) = 0 OR o.owner_id = ANY(CAST(:reps AS text[])))
        )
        SELECT stage, count(*) AS deals, avg(extract(epoch FROM left_at - at)) / 86400 AS avg_days
        FROM moves WHERE left_at IS NOT NULL GROUP BY stage""")
    teams = list(flt.teams or flt.scope_teams or ())
    params = {"start": flt.start, "end_excl": flt.end + timedelta(days=1), "teams": teams, "reps": list(flt.reps)}
    async with db.uow() as uow:
        stage_rows = [dict(r) for r in (await uow.session.execute(stages_sql, params)).mappings()]
        step_rows = (await uow.session.execute(text(f"""
            SELECT {", ".join(f"avg(extract(epoch FROM {col} - received_at)) / 86400 AS {step}"
                              for step, col in _STEP_COLUMNS)}
            FROM opportunity.funnel_leads
            WHERE received_on BETWEEN :start AND :end
              AND (cardinality(CAST(:teams AS text[])) = 0 OR team_id = ANY(CAST(:teams AS text[])))
              AND (cardinality(CAST(:reps AS text[])) = 0 OR owner_id = ANY(CAST(:reps AS text[])))"""),
            {**params, "end": flt.end})).mappings().first()
    return {"stages": [{"stage": r["stage"], "deals": r["deals"], "avg_days": _days(r["avg_days"])}
                       for r in stage_rows],
            "from_receipt": {step: _days(step_rows[step]) if step_rows else None for step, _ in _STEP_COLUMNS}}


_STEP_COLUMNS = (("mql", "mql_at"), ("sql", "sql_at"), ("opportunities", "opportunity_at"), ("won", "won_at"),
                 ("realized", "realized_at"))


def _days(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


async def channel_figures(db: Database, flt: ReportFilter) -> list[dict[str, Any]]:
    """Per source and partner: the funnel's figures and the spend of the months the period touches."""
    c = flt.cohorts().c
    sums = [func.sum(getattr(c, m)).label(m) for m in MEASURES]
    counted = await _rows(db, select(c.source, c.partner_id, *sums)
                          .group_by(c.source, c.partner_id))
    s = channel_spend.c
    spent = await _rows(db, select(s.source, s.partner_id, func.sum(s.amount).label("spend"),
                                   func.min(s.currency).label("currency"))
                        .where(s.month.between(flt.start.replace(day=1), flt.end))
                        .group_by(s.source, s.partner_id))
    return _join_spend(counted, spent)


def _join_spend(counted: list[dict[str, Any]], spent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in counted:
        out[(row["source"], row["partner_id"])] = {**{m: float(row[m] or 0) for m in MEASURES},
                                                   "source": row["source"], "partner_id": row["partner_id"],
                                                   "spend": 0.0, "currency": None}
    for row in spent:
        entry = out.setdefault((row["source"], row["partner_id"]), {
            **{m: 0.0 for m in MEASURES}, "source": row["source"], "partner_id": row["partner_id"]})
        entry.update(spend=float(row["spend"]), currency=row["currency"])
    return list(out.values())


async def realized_by(db: Database, column: str, start: datetime, end: datetime,
                      teams: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """Realized new sales (新签业绩, credited at the first payment) and wins per owner, team or SDR."""
    o = opportunities.c
    who = getattr(o, column)
    conditions = [who.is_not(None)]
    if teams is not None:
        conditions.append(o.team_id.in_(teams))
    in_period = and_(o.realized_at >= start, o.realized_at < end)
    won_in_period = and_(o.won_at >= start, o.won_at < end)
    created_in_period = and_(o.created_at >= start, o.created_at < end)
    rows = await _rows(db, select(
        who.label("id"),
        func.coalesce(func.sum(o.realized_amount).filter(in_period), 0).label("realized"),
        func.count().filter(in_period).label("realized_deals"),
        func.count().filter(won_in_period).label("won"),
        func.coalesce(func.sum(o.amount).filter(won_in_period), 0).label("won_amount"),
        func.count().filter(created_in_period).label("opportunities"),
    ).where(*conditions).where(in_period | won_in_period | created_in_period).group_by(who))
    return {r["id"]: {**r, "realized": float(r["realized"]), "won_amount": float(r["won_amount"])} for r in rows}


async def qualified_by(db: Database, start: datetime, end: datetime,
                       teams: Sequence[str] | None) -> dict[str, int]:
    """Leads each SDR qualified and handed to sales, by when they were received."""
    c = leads.c
    conditions = [c.qualified_by.is_not(None), c.received_at >= start, c.received_at < end]
    if teams is not None:
        conditions.append(c.team_id.in_(teams))
    rows = await _rows(db, select(c.qualified_by.label("id"), func.count().label("n")).where(*conditions)
                       .group_by(c.qualified_by))
    return {r["id"]: int(r["n"]) for r in rows}


async def targets_of(db: Database, month: date, kind: str | None = None) -> list[dict[str, Any]]:
    t = targets.c
    query = select(targets).where(t.month == month)
    if kind:
        query = query.where(t.kind == kind)
    return await _rows(db, query.order_by(t.kind, t.subject_id))


async def spend_of(db: Database, start: date, end: date) -> list[dict[str, Any]]:
    s = channel_spend.c
    return await _rows(db, select(channel_spend).where(s.month.between(start, end))
                       .order_by(s.month, s.source, s.partner_id))


async def cohort_counts_by(db: Database, column: str, flt: ReportFilter) -> dict[str, dict[str, int]]:
    """Leads and how many of them converted, per rep or team (conversion rate, 转化率)."""
    c = flt.cohorts().c
    who = getattr(c, column)
    rows = await _rows(db, select(who.label("id"), func.sum(c.leads).label("leads"),
                                  func.sum(c.opportunities).label("opportunities"), func.sum(c.won).label("won"))
                       .where(who != NONE).group_by(who))
    return {r["id"]: {k: int(r[k] or 0) for k in ("leads", "opportunities", "won")} for r in rows}



