"""The predictive score, trained on the shared history of X Education leads (no infrastructure needed)."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from leadflow_scoring.cli import scoring_app
from leadflow_scoring.predictive import (
    DEFAULT_EXCLUDED,
    LeadEncoder,
    PredictiveModel,
    exclusions,
    load_model,
    single_lead_latency,
    train_model,
)
from leadflow_shared.datasets import shared_dataset
from typer.testing import CliRunner

HISTORY = shared_dataset("xeducation_leads_train.csv")
LABEL, ID = "Converted", "Prospect ID"
VERSION = re.compile(r"^hgb-\d{8}T\d{9}Z-[0-9a-f]{8}$")


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    assert HISTORY is not None, ("the shared history xeducation_leads_train.csv is missing: put shared/datasets/ "
                                 "beside the repository or set LEADFLOW_SHARED_DIR")
    return pd.read_csv(HISTORY)


@pytest.fixture(scope="module")
def trained(history: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PredictiveModel]:
    out = tmp_path_factory.mktemp("model")
    train_model(history, LABEL, ID, out_dir=out)
    return out, load_model(out)


@pytest.fixture(scope="module")
def leads(history: pd.DataFrame) -> list[dict]:
    """New leads as they arrive: no outcome, none of the columns sales fill in later."""
    return history.drop(columns=[LABEL, *DEFAULT_EXCLUDED]).to_dict("records")


def test_cross_validated_quality_beats_the_baseline(trained: tuple[Path, PredictiveModel]) -> None:
    metrics = trained[1].info.metrics
    model, baseline = metrics["model"], metrics["baseline"]
    print(f"\nCV model AUC {model['roc_auc']:.4f} Brier {model['brier']:.4f}; "
          f"baseline AUC {baseline['roc_auc']:.4f} Brier {baseline['brier']:.4f}")
    assert model["folds"] == baseline["folds"] == 5
    assert model["roc_auc"] > 0.88
    assert model["roc_auc"] >= baseline["roc_auc"] - 0.005
    assert model["brier"] < 0.14
    assert 0.8 < baseline["roc_auc"] < 1 and 0 < baseline["brier"] < 0.25


def test_columns_filled_in_after_contact_are_not_features(trained: tuple[Path, PredictiveModel]) -> None:
    info = trained[1].info
    names = {f["name"] for f in info.features}
    assert names and not names & set(DEFAULT_EXCLUDED)
    assert LABEL not in names and ID not in names
    assert {c: info.excluded[c] for c in DEFAULT_EXCLUDED} == dict.fromkeys(DEFAULT_EXCLUDED, "excluded")
    assert info.excluded["Lead Number"] == "identifier"
    assert info.excluded["Magazine"] == "near-constant"
    kinds = {f["name"]: f["kind"] for f in info.features}
    assert kinds["Total Time Spent on Website"] == "numeric" and kinds["Lead Source"] == "categorical"


def test_model_json_records_version_metrics_and_training(trained: tuple[Path, PredictiveModel]) -> None:
    out, model = trained
    meta = json.loads((out / "model.json").read_text())
    assert VERSION.match(meta["version"]) and meta["version"] == model.version
    assert meta["label"] == LABEL and meta["id_column"] == ID and meta["training_rows"] == 6465
    assert set(meta["metrics"]) == {"model", "baseline"}
    assert {"roc_auc", "brier"} <= set(meta["metrics"]["model"])
    assert meta["created_at"].endswith("+00:00") and (out / "model.joblib").is_file()


def test_predict_writes_id_and_probability_in_input_order(
    trained: tuple[Path, PredictiveModel], leads: list[dict], tmp_path: Path
) -> None:
    source, scored = tmp_path / "leads.csv", tmp_path / "scored.csv"
    pd.DataFrame(leads[:2500]).to_csv(source, index=False)
    result = CliRunner().invoke(scoring_app, ["predict", "--model", str(trained[0]), "--input", str(source),
                                              "--id-column", ID, "--output", str(scored)])
    assert result.exit_code == 0, result.output
    with scored.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "probability"]
    assert [r[0] for r in rows[1:]] == [lead[ID] for lead in leads[:2500]]
    probabilities = [float(r[1]) for r in rows[1:]]
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    direct = trained[1].predict_proba(leads[:5])
    assert probabilities[:5] == pytest.approx(direct, abs=1e-6)


def test_explain_names_signed_top_factors(trained: tuple[Path, PredictiveModel], leads: list[dict]) -> None:
    model = trained[1]
    names = {f["name"] for f in model.info.features}
    signs = set()
    for lead in leads[:50]:
        factors = model.explain(lead, top=3)
        assert 1 <= len(factors) <= 3
        assert all(name in names and isinstance(c, float) and -1 <= c <= 1 for name, c in factors)
        sizes = [abs(c) for _, c in factors]
        assert sizes == sorted(sizes, reverse=True)
        signs |= {math.copysign(1, c) for _, c in factors if c}
    assert signs == {1.0, -1.0}
    probability, factors = model.score_and_explain(leads[0])
    assert probability == pytest.approx(model.predict_proba([leads[0]])[0]) and factors == model.explain(leads[0])


def test_unseen_categories_and_missing_columns_still_score(trained: tuple[Path, PredictiveModel]) -> None:
    model = trained[1]
    odd = {"Lead Origin": "Carrier Pigeon", "Lead Source": "a brand new source", "TotalVisits": "n/a",
           "Total Time Spent on Website": "not a number", "City": "Select", "Never Seen Column": 42}
    probabilities = model.predict_proba([odd, {}, {"Total Time Spent on Website": 1500}])
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert probabilities[2] > probabilities[1]  # time on the site is the strongest sign of intent
    assert all(isinstance(name, str) for name, _ in model.explain(odd))
    assert model.predict_proba([]) == []


def test_placeholders_read_as_unanswered(trained: tuple[Path, PredictiveModel]) -> None:
    encoder: LeadEncoder = trained[1].encoder
    city = [f.name for f in encoder.features].index("City")
    matrix = encoder.transform([{"City": "Select"}, {"City": " select "}, {"City": None}, {"City": "Mumbai"}])
    assert [math.isnan(v) for v in matrix[:, city]] == [True, True, True, False]
    empty, placeholder = matrix[:, -2], matrix[:, -1]
    assert list(placeholder[:3]) == [1, 1, 0] and empty[2] == empty[0] + 1


def test_single_lead_latency(trained: tuple[Path, PredictiveModel], leads: list[dict]) -> None:
    latency = single_lead_latency(trained[1], leads, runs=300)
    print(f"\nsingle lead predict+explain: p50 {latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms")
    assert latency["p99_ms"] < 50  # the 5 ms target is a benchmark's to judge, not a shared CI box's


def test_trains_from_the_services_own_outcome_rows(history: pd.DataFrame, tmp_path: Path) -> None:
    """Dict rows as the service keeps them: won/lost words, open leads without an outcome, numbers as text."""
    rows = history.head(1200).to_dict("records")
    for i, row in enumerate(rows):
        row["outcome"] = "won" if row.pop(LABEL) else "lost"
        row["Total Time Spent on Website"] = str(row["Total Time Spent on Website"])
        if i % 10 == 0:
            row["outcome"] = None  # still open: not a lesson yet
    info = train_model(rows, "outcome", ID, out_dir=tmp_path, exclude=["Tags"], folds=2, calibration_folds=2)
    assert info.training_rows == 1080 and VERSION.match(info.version)
    kinds = {f["name"]: f["kind"] for f in info.features}
    assert kinds["Total Time Spent on Website"] == "numeric" and "Tags" not in kinds
    assert "Lead Quality" in kinds  # an explicit exclude list replaces the defaults
    model = load_model(tmp_path)
    assert model.version == info.version and 0 <= model.predict_proba(rows[:1])[0] <= 1


def test_train_command_prints_metrics_and_honours_exclusions(history: pd.DataFrame, tmp_path: Path) -> None:
    source, config, out = tmp_path / "history.csv", tmp_path / "scoring.yaml", tmp_path / "model"
    history.head(1500).to_csv(source, index=False)
    config.write_text("extend_defaults: true\nexclude: [Last Activity]\n")
    result = CliRunner().invoke(scoring_app, ["train", "--history", str(source), "--label", LABEL, "--id-column", ID,
                                              "--out", str(out), "--config", str(config), "--exclude", "City",
                                              "--folds", "2"])
    assert result.exit_code == 0, result.output
    assert "ROC AUC" in result.output and "Brier" in result.output and "baseline" in result.output
    meta = json.loads((out / "model.json").read_text())
    names = {f["name"] for f in meta["features"]}
    assert not names & {*DEFAULT_EXCLUDED, "Last Activity", "City"}
    assert meta["excluded"]["City"] == meta["excluded"]["Last Activity"] == "excluded"


def test_exclusions_default_and_override(tmp_path: Path) -> None:
    assert exclusions() == list(DEFAULT_EXCLUDED)
    assert exclusions(["Tags"]) == ["Tags"]
    config = tmp_path / "scoring.json"
    config.write_text(json.dumps({"exclude": ["Lead Quality"]}))
    assert exclusions(["Tags"], config) == ["Lead Quality", "Tags"]
