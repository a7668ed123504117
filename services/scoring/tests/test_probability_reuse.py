"""A lead's probability is predicted when its fields change or the model does, and kept otherwise: an
activity moves the rules' behaviour points, never what the model sees."""

from __future__ import annotations

import uuid
from typing import Any

from leadflow_scoring.domain.rules_yaml import default_rules_text, load_rules_yaml
from leadflow_scoring.domain.scorer import Scorer, probabilities_of


class CountingModel:
    version = "m2"

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def predict_proba(self, rows: list[dict[str, Any]]) -> list[float]:
        self.asked += rows
        return [0.9 for _ in rows]


def _row(**fields: Any) -> dict[str, Any]:
    return {"lead_id": uuid.uuid4(), "lead": {"industry": "制造业"}, "probability": None, "model_version": None,
            **fields}


def _scorer(model: CountingModel | None) -> Scorer:
    return Scorer(rules=load_rules_yaml(default_rules_text()), model=model)


def test_only_leads_with_new_fields_or_an_old_models_probability_are_predicted() -> None:
    model = CountingModel()
    kept = _row(probability=0.25, model_version="m2")
    edited = _row(probability=0.25, model_version="m2")
    older_model = _row(probability=0.25, model_version="m1")
    new = _row()
    assert probabilities_of([kept, edited, older_model, new], _scorer(model), changed={edited["lead_id"]}) \
        == [0.25, 0.9, 0.9, 0.9]
    assert len(model.asked) == 3


def test_without_a_model_no_lead_keeps_a_probability() -> None:
    assert probabilities_of([_row(probability=0.25, model_version="m2")], _scorer(None), changed=set()) == [None]
