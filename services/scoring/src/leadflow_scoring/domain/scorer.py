"""What scores leads: the active rule set and predictive model, and what the model sees of a lead (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leadflow_scoring.domain.rules import RuleSet

# Fields that identify a person: never features of the predictive model.
PERSONAL_FIELDS = frozenset({"name", "mobile", "wechat", "email", "client_ip", "device_id", "referrer",
                             "company_name", "company_canonical", "company_credit_code"})


@dataclass
class Scorer:
    """What scores leads right now: the active rule set and predictive model (each hot-swapped by the
    watcher, jobs.py, when another version is activated)."""

    rules: RuleSet
    model: Any | None = None  # leadflow_scoring.predictive model: .version, .predict_proba(rows)

    def probabilities(self, rows: Sequence[dict[str, Any]]) -> list[float | None]:
        if self.model is None or not rows:
            return [None] * len(rows)
        return [float(p) for p in self.model.predict_proba([model_features(r) for r in rows])]

    @property
    def model_version(self) -> str | None:
        return getattr(self.model, "version", None)


def probabilities_of(rows: Sequence[dict[str, Any]], scorer: Scorer, *, changed: set[uuid.UUID],
                     predicted: dict[uuid.UUID, float | None] | None = None) -> list[float | None]:
    """Each lead's probability. The model sees a lead's fields, never its activities: a lead whose fields
    did not change keeps what the same model said of it, and only the others are predicted (unless
    `predicted` already has them, from the same scorer)."""
    version, fresh = scorer.model_version, dict(predicted or {})
    stale = [r for r in rows if r["lead_id"] not in fresh and (
        r["lead_id"] in changed or r.get("probability") is None or r.get("model_version") != version)]
    fresh.update(zip([r["lead_id"] for r in stale], scorer.probabilities(stale), strict=True))
    return [fresh[r["lead_id"]] if r["lead_id"] in fresh else r["probability"] for r in rows]


def model_features(row: dict[str, Any]) -> dict[str, Any]:
    """The predictive model's view of a lead: what is known when it arrives (its fields, enrichment and
    custom attributes), not who the person or company is. Activities are left to the behaviour rules:
    counted at a lead's close they would teach the model what sales did after contact."""
    lead = row["lead"]
    features = {k: v for k, v in lead.items() if k not in PERSONAL_FIELDS and not isinstance(v, dict | list)}
    features.update({k: v for k, v in (lead.get("custom") or {}).items() if not isinstance(v, dict | list)})
    return features
