"""A lead's score, its grade and its stage in the funnel."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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
class Score:
    points: float
    grade: str
    stage: Stage
    rules_version: str
    factors: list[tuple[str, float]] = field(default_factory=list)


BASELINE_RULES_VERSION = "baseline-0"


def baseline_score(thresholds: GradeThresholds = GradeThresholds()) -> Score:
    """The score of a lead no rule has spoken about yet: nothing earned, so it is nurtured."""
    return Score(points=0.0, grade=thresholds.grade(0.0), stage=Stage.nurture, rules_version=BASELINE_RULES_VERSION)
