import pytest

from leadflow_scoring.domain.model import GradeThresholds, Stage, baseline_score


@pytest.mark.parametrize(("score", "grade"), [(95, "A"), (80, "A"), (79.9, "B"), (60, "B"), (40, "C"), (0, "D")])
def test_grades_follow_the_thresholds(score: float, grade: str) -> None:
    assert GradeThresholds().grade(score) == grade


def test_a_lead_no_rule_has_scored_is_nurtured() -> None:
    score = baseline_score()
    assert (score.points, score.grade, score.stage) == (0.0, "D", Stage.nurture)
    assert score.rules_version == "baseline-0"
