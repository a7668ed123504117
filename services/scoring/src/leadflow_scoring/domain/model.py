"""A lead's score, its grade and its stage in the funnel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    nurture = "nurture"  # 培育池: not yet worth a rep's time
    mql = "mql"  # marketing-qualified lead
    disqualified = "disqualified"


@dataclass(frozen=True)
class GradeThresholds:
    """Lowest score of each grade; below `c` is D."""

    a: float = 80
    b: float = 60
    c: float = 40

    def grade(self, score: float) -> str:
        if score >= self.a:
            return "A"
        if score >= self.b:
            return "B"
        return "C" if score >= self.c else "D"


@dataclass(frozen=True)
class Factor:
    """One line of a score's explanation: a rule that fired and the points it gave.

    `rule` is prefixed by its kind: `fit:<id>`, `behaviour:<id>`, `bant`, `limit:min|max`,
    `predictive`, `disqualify:<id>`. The points of all factors add up to the score (before rounding).
    Iterating a factor yields `(rule, points)`, so `for rule, points in score.factors` keeps working.
    """

    rule: str
    points: float
    detail: str | None = None
    count: int | None = None  # behaviour factors: how many activities matched the rule

    def __iter__(self) -> Iterator[Any]:
        return iter((self.rule, self.points))

    def as_dict(self) -> dict[str, Any]:
        """The shape of `leadflow_shared.contracts.ScoreFactor` (rule, points, detail)."""
        return {"rule": self.rule, "points": self.points, "detail": self.detail}


@dataclass(frozen=True)
class Score:
    points: float
    grade: str
    stage: Stage
    rules_version: str
    factors: list[Factor] = field(default_factory=list)
    probability: float | None = None  # the predictive probability the score was computed with, if any
    bant_positive: int = 0  # how many of budget / authority / need / timeline were answered positively
    disqualified_by: str | None = None  # id of the first fit rule that disqualified the lead

    def explanation(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in self.factors]


ScoreResult = Score

BASELINE_RULES_VERSION = "baseline-0"


def baseline_score(thresholds: GradeThresholds = GradeThresholds()) -> Score:
    """The score of a lead no rule has spoken about yet: nothing earned, so it is nurtured."""
    return Score(points=0.0, grade=thresholds.grade(0.0), stage=Stage.nurture, rules_version=BASELINE_RULES_VERSION)


@dataclass(frozen=True)
class Caller:
    """Who calls scoring's API with an API key: a partner posting activities (staff use staff tokens)."""

    id: str
    name: str
    role: str  # partner (keys of role staff, from before staff tokens, are refused)
