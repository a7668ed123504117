"""What a rules change would do to the current leads, before it is applied (规则模拟)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadflow_scoring.domain.model import Stage
from leadflow_scoring.domain.rules import RuleSet
from leadflow_scoring.domain.scoring import evaluate

EXAMPLES = 20


@dataclass
class Simulation:
    rules_version: str
    leads: int = 0
    changed: int = 0
    current_grades: Counter[str] = field(default_factory=Counter)
    proposed_grades: Counter[str] = field(default_factory=Counter)
    current_stages: Counter[str] = field(default_factory=Counter)
    proposed_stages: Counter[str] = field(default_factory=Counter)
    grade_changes: Counter[str] = field(default_factory=Counter)
    stage_changes: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, lead: Mapping[str, Any], rules: RuleSet, now: datetime) -> None:
        """One current lead (its row: lead, history, score, grade, stage, probability) under the new rules."""
        proposed = evaluate(lead["lead"], lead["history"], rules, now, lead.get("probability"))
        stage = Stage.mql if lead["stage"] == Stage.mql and proposed.stage == Stage.nurture else proposed.stage
        self.leads += 1
        self.current_grades[lead["grade"]] += 1
        self.proposed_grades[proposed.grade] += 1
        self.current_stages[lead["stage"]] += 1
        self.proposed_stages[str(stage)] += 1
        if (lead["grade"], lead["stage"]) == (proposed.grade, str(stage)):
            return
        self.changed += 1
        if lead["grade"] != proposed.grade:
            self.grade_changes[f"{lead['grade']}→{proposed.grade}"] += 1
        if lead["stage"] != stage:
            self.stage_changes[f"{lead['stage']}→{stage}"] += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append({
                "lead_id": str(lead["lead_id"]), "score": lead["score"], "grade": lead["grade"], "stage": lead["stage"],
                "proposed_score": proposed.points, "proposed_grade": proposed.grade, "proposed_stage": str(stage),
                "explanation": proposed.explanation(),
            })

    def report(self) -> dict[str, Any]:
        return {
            "rules_version": self.rules_version, "leads": self.leads, "changed": self.changed,
            "grades": {"current": dict(self.current_grades), "proposed": dict(self.proposed_grades)},
            "stages": {"current": dict(self.current_stages), "proposed": dict(self.proposed_stages)},
            "grade_changes": dict(self.grade_changes), "stage_changes": dict(self.stage_changes),
            "examples": self.examples,
        }


def simulate(leads: Iterable[Mapping[str, Any]], rules: RuleSet, now: datetime) -> dict[str, Any]:
    simulation = Simulation(rules.version)
    for lead in leads:
        simulation.add(lead, rules, now)
    return simulation.report()
