"""The sales funnel (销售漏斗): lead → MQL → SQL → opportunity → won → realized.

Each lead counts in the cohort of the day it was received, under its source, partner, owner and team; a
lead moving on (or changing owner) moves its counts between cohorts. The projection keeps one row per
lead and a sum per cohort, so that a funnel over a million leads sums a few thousand rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

STEPS = ("leads", "mql", "sql", "opportunities", "won", "realized")
AMOUNTS = ("won_amount", "realized_amount")
MEASURES = STEPS + AMOUNTS
# The lead's timestamp that says it reached each step (after the first: the lead itself).
REACHED_AT = {"mql": "mql_at", "sql": "sql_at", "opportunities": "opportunity_at", "won": "won_at",
              "realized": "realized_at"}
LABELS = {
    "leads": ("线索", "Leads"),
    "mql": ("市场认可线索 MQL", "MQL"),  # short: the chart's label column is narrow
    "sql": ("销售认可线索 SQL", "SQL"),
    "opportunities": ("商机", "Opportunities"),
    "won": ("赢单", "Won"),
    "realized": ("回款", "Paid"),
}
DIMENSIONS = ("source", "partner_id", "owner_id", "team_id")
NONE = ""  # a cohort's missing dimension (a lead without partner, owner or team)


def label(step: str, language: str) -> str:
    zh, en = LABELS[step]
    return en if language == "en" else zh


@dataclass(frozen=True)
class CohortKey:
    day: date
    source: str
    partner_id: str
    owner_id: str
    team_id: str


Vector = tuple[float, ...]  # one figure per MEASURES


def contribution(lead: Mapping[str, Any]) -> tuple[CohortKey, Vector] | None:
    """Where a lead counts and what: nothing until intake's `received` told its day."""
    if lead.get("received_on") is None:
        return None
    key = CohortKey(lead["received_on"], *(lead.get(d) or NONE for d in DIMENSIONS))
    steps = [1.0] + [1.0 if lead.get(REACHED_AT[s]) is not None else 0.0 for s in STEPS[1:]]
    amounts = [float(lead.get(a) or 0) for a in AMOUNTS]
    return key, tuple(steps + amounts)


def deltas(changes: Iterable[tuple[Mapping[str, Any] | None, Mapping[str, Any]]]) -> dict[CohortKey, Vector]:
    """What the cohorts gain and lose when leads change from `before` (None: new) to `after`, summed per
    cohort; cohorts whose sums do not move are left out."""
    sums: dict[CohortKey, list[float]] = defaultdict(lambda: [0.0] * len(MEASURES))
    for before, after in changes:
        for row, sign in ((before, -1.0), (after, 1.0)):
            counted = contribution(row) if row is not None else None
            if counted is None:
                continue
            key, vector = counted
            total = sums[key]
            for i, value in enumerate(vector):
                total[i] += sign * value
    return {k: tuple(v) for k, v in sums.items() if any(v)}


def reached_first(current: Any, new: Any) -> Any:
    """A step is reached once: its first time stays."""
    if current is None:
        return new
    if new is None:
        return current
    return min(current, new)


@dataclass(frozen=True)
class Fact:
    """Something an event says about a lead's way down the funnel.

    kind: `received` (its cohort: day, source, partner), `owner` (who works it now, and his team), or a
    step reached (`mql`, `sql`, `opportunities`, `won`, `realized`, with the deal's amount)."""

    lead_id: Any
    kind: str
    at: datetime
    day: date | None = None
    source: str | None = None
    partner_id: str | None = None
    owner_id: str | None = None
    team_id: str | None = None
    amount: float | None = None


def apply(row: dict[str, Any], fact: Fact) -> dict[str, Any]:
    """The lead's projection row after a fact; facts may come in any order and more than once."""
    row = dict(row)
    if fact.kind == "received":
        if row.get("received_at") is None or fact.at < row["received_at"]:
            row.update(received_at=fact.at, received_on=fact.day, source=fact.source or "other",
                       partner_id=fact.partner_id)
    elif fact.kind == "owner":
        _own(row, fact)
    else:
        column = REACHED_AT[fact.kind]
        row[column] = reached_first(row.get(column), fact.at)
        if fact.kind == "opportunities":  # the converting rep keeps the lead's credit from here on
            row.update(owner_id=fact.owner_id or row.get("owner_id"), team_id=fact.team_id or row.get("team_id"),
                       owner_at=fact.at)
        if fact.kind in ("won", "realized") and fact.amount is not None:
            row[f"{fact.kind}_amount"] = fact.amount
    return row


def _own(row: dict[str, Any], fact: Fact) -> None:
    if row.get("opportunity_at") is not None:
        return
    if row.get("owner_at") is not None and fact.at < row["owner_at"]:
        row["team_id"] = row.get("team_id") or fact.team_id  # an older ownership told late: only its team counts
        return
    row.update(owner_id=fact.owner_id, owner_at=fact.at)
    if fact.team_id:
        row["team_id"] = fact.team_id


# ---- the report ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    step: str
    label: str
    count: int
    rate: float | None  # from the previous step
    overall: float | None  # from the first step


def steps(totals: Mapping[str, float], language: str = "zh") -> list[Step]:
    out: list[Step] = []
    leads = totals.get("leads", 0)
    previous: float | None = None
    for step in STEPS:
        count = int(totals.get(step, 0))
        out.append(Step(step, label(step, language), count, _ratio(count, previous), _ratio(count, leads)))
        previous = count
    return out


def _ratio(part: float, whole: float | None) -> float | None:
    if whole is None or whole == 0:
        return None
    return round(part / whole, 4)


def attainment(actual: float, target: float | None) -> float | None:
    """业绩达成率: actual over target (None without a target)."""
    return None if not target else round(actual / target, 4)


def roi(revenue: float, spend: float) -> float | None:
    """(revenue − spend) / spend; None when nothing was spent."""
    return None if not spend else round((revenue - spend) / spend, 4)


def per(amount: float, count: float) -> float | None:
    return None if not count else round(amount / count, 2)


def rank(rows: Sequence[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Rows best first by `by`, with a competition rank (equal figures share a rank: 1, 2, 2, 4)."""
    ordered = sorted(rows, key=lambda r: (-(r.get(by) or 0), str(r.get("id"))))
    out, last, last_rank = [], None, 0
    for i, row in enumerate(ordered, start=1):
        value = row.get(by) or 0
        last_rank = last_rank if value == last else i
        last = value
        out.append({"rank": last_rank, **row})
    return out
