"""What a proposed rule set would have done with a period's leads, beside the current one (收益预估).

Each rule set replays the same leads in the order they came, from empty loads (new leads a day counted
per day), so caps bind as they would have. Expected conversions weigh each assignment by the lead's
probability and the rep's measured conversion for its channel: what switching, say, from round robin to
capability-based assignment would gain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from leadflow_assignment.domain.org import Organisation
from leadflow_assignment.domain.routing import ConversionRates, LeadFacts, Loads, Router
from leadflow_assignment.domain.rules import RuleSet


@dataclass(frozen=True)
class Replayed:
    lead: LeadFacts
    day: date


def replay(leads: Sequence[Replayed], org: Organisation, rules: RuleSet, rates: ConversionRates, *,
           default_pool: str) -> dict[str, Any]:
    router = Router(org, rules, default_pool=default_pool, rates=rates, pointers={})
    loads, day = Loads(), None
    per_rep: dict[str, dict[str, Any]] = defaultdict(lambda: {"leads": 0, "by_grade": defaultdict(int),
                                                              "expected_conversions": 0.0})
    outcomes: dict[str, int] = defaultdict(int)
    by_rule: dict[str, int] = defaultdict(int)
    overflows, expected = 0, 0.0
    for item in leads:
        if item.day != day:  # a new day: nobody has had a new lead yet
            day = item.day
            for load in loads.values():
                load.new_today = 0
            router.loads_fell()
        decision = router.decide(item.lead, loads)
        outcomes[decision.outcome] += 1
        by_rule[decision.rule] += 1
        if decision.outcome != "assigned":
            if "full" in decision.reason:
                overflows += 1
            continue
        owner = decision.owner_id or ""
        rep = org.rep(owner)
        gain = (item.lead.probability or 0.0) * rates.rate(owner, rep.team if rep else "", item.lead.channel)
        row = per_rep[owner]
        row["leads"] += 1
        row["by_grade"][item.lead.grade or "?"] += 1
        row["expected_conversions"] += gain
        expected += gain
    return {
        "rules_version": rules.version,
        "leads": len(leads),
        "outcomes": dict(outcomes),
        "by_rule": dict(by_rule),
        "cap_overflows": overflows,
        "expected_conversions": round(expected, 2),
        "per_rep": {rep: {"leads": r["leads"], "by_grade": dict(r["by_grade"]),
                          "expected_conversions": round(r["expected_conversions"], 2)}
                    for rep, r in sorted(per_rep.items())},
    }


def compare(leads: Sequence[Replayed], org: Organisation, current: RuleSet, proposed: RuleSet,
            rates: ConversionRates, *, default_pool: str) -> dict[str, Any]:
    now = replay(leads, org, current, rates, default_pool=default_pool)
    then = replay(leads, org, proposed, rates, default_pool=default_pool)
    gain = then["expected_conversions"] - now["expected_conversions"]
    return {"leads": len(leads), "current": now, "proposed": then,
            "expected_conversions_gain": round(gain, 2),
            "expected_conversions_gain_pct": round(100 * gain / now["expected_conversions"], 1)
            if now["expected_conversions"] else None}
