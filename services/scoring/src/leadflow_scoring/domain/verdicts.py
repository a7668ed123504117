"""An SDR's verdict on a lead after cleansing it (线索清洗), as scoring takes it: qualified leads get the BANT
answers he heard (the usual MQL rule then decides, with those answers among its facts); a lead he found invalid
is disqualified; one he sent back to nurture (培育池) stays there until it earns points beyond the score it had
then: engagement newer than his verdict, not the same facts again, brings it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from leadflow_scoring.domain.model import Factor, Score, Stage

QUALIFIED, NURTURE, INVALID = "qualified", "nurture", "invalid"


def with_bant(lead: Mapping[str, Any], answers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The lead with the SDR's BANT answers merged over what it said itself (a blank answer changes nothing)."""
    given = {k: v for k, v in (answers or {}).items() if v not in (None, "")}
    if not given:
        return dict(lead)
    return {**lead, "bant": {**(lead.get("bant") or {}), **given}}


def verdict_of(disposition: str, by: str, reason: str | None, at: str) -> dict[str, Any]:
    """The verdict as stored with the lead; `points` (its score when judged) is filled in when first scored."""
    return {"disposition": disposition, "by": by, "reason": reason, "at": at, "points": None}


def judged(score: Score, verdict: Mapping[str, Any] | None) -> Score:
    """The score after the SDR's verdict, if any."""
    if not verdict:
        return score
    disposition, who = verdict.get("disposition"), verdict.get("by")
    because = f" ({verdict['reason']})" if verdict.get("reason") else ""
    if disposition == INVALID:
        factor = Factor(f"sdr:{INVALID}", -score.points, f"invalid per {who}{because}")
        return replace(score, points=0.0, grade="D", stage=Stage.disqualified, factors=[*score.factors, factor])
    if disposition == NURTURE and score.stage == Stage.mql and score.points <= (verdict.get("points") or 0.0):
        factor = Factor(f"sdr:{NURTURE}", 0.0, f"back to nurture per {who}{because}")
        return replace(score, stage=Stage.nurture, factors=[*score.factors, factor])
    return score
