"""Predictive score: learns the chance a lead is won from past leads' outcomes.

A model is trained on any table of past leads (a CSV, a DataFrame or the service's own outcome
history as dict rows), evaluated by stratified cross-validation beside a logistic-regression
baseline, and saved as a versioned artifact (``model.joblib`` + ``model.json``). Loaded back, it
scores leads as they arrive and names the top factors behind each score.

Only what is known when a lead arrives may be a feature: columns that sales fill in after
contact are excluded by configuration (``DEFAULT_EXCLUDED``), the id and the label never count,
and columns that carry no signal a new lead could share (near-constant ones, identifiers) are
dropped automatically — see ``plan_features``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import pandas as pd
import yaml
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import ThreadpoolController, threadpool_limits

# Filled in by sales after first contact, so unknown when the lead arrives (scoring on them leaks
# the outcome). Override per training run with `exclude=` / `--exclude` / a config file.
DEFAULT_EXCLUDED: tuple[str, ...] = (
    "Tags",
    "Lead Quality",
    "Lead Profile",
    "Asymmetrique Activity Index",
    "Asymmetrique Profile Index",
    "Asymmetrique Activity Score",
    "Asymmetrique Profile Score",
    "Last Notable Activity",
)
# Form defaults and fillers that mean "not answered".
PLACEHOLDERS = frozenset({"", "select", "--select--", "please select", "n/a", "na", "nan", "none", "null", "-", "--"})
RANDOM_STATE = 42
MODEL_FILE, META_FILE = "model.joblib", "model.json"
MODEL_KIND = "hgb"

NEAR_CONSTANT_SHARE = 0.995  # one value (or absence) on more rows than this: nothing to learn from
ID_LIKE_SHARE = 0.95  # distinct integers on more rows than this: a counter, not a trait of the lead
FREE_TEXT_SHARE = 0.5  # distinct strings on more rows than this: names, e-mails, notes
MIN_ROWS_FOR_ID_CHECK = 50  # below this, distinct values prove nothing
MIN_CATEGORY_ROWS = 5  # rarer categories share one "other" code (unseen ones land there too)
MAX_CATEGORIES = 250  # HistGradientBoosting takes at most 255 bins per feature

Kind = Literal["numeric", "categorical"]
Rows = Sequence[Mapping[str, Any]]


class _Blank(Enum):
    """Why a value is missing; enum members survive pickling as the same objects."""

    ABSENT = "absent"  # no such column, None or NaN
    PLACEHOLDER = "placeholder"  # a form default such as "Select"


_ABSENT, _PLACEHOLDER = _Blank.ABSENT, _Blank.PLACEHOLDER


# ---------------------------------------------------------------- values and features


def _clean(value: Any) -> Any:
    """The value as given, or _ABSENT / _PLACEHOLDER when the lead did not answer."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return _ABSENT
    if isinstance(value, str):
        text = " ".join(value.split())
        return _PLACEHOLDER if text.casefold() in PLACEHOLDERS else text
    return value


def _as_number(value: Any) -> float:
    if value is _ABSENT or value is _PLACEHOLDER or isinstance(value, bool):
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _as_category(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 3.0 from a CSV and 3 from JSON are the same answer
    return str(value)


@dataclass(frozen=True)
class Feature:
    """One input column of the model: its name and whether it is read as a number or a category."""

    name: str
    kind: Kind


def _kind_of(values: list[Any]) -> Kind:
    answered = [v for v in values if v is not _ABSENT and v is not _PLACEHOLDER]
    numbers = sum(not math.isnan(_as_number(v)) for v in answered)
    return "numeric" if answered and numbers >= 0.98 * len(answered) else "categorical"


def _drop_reason(values: list[Any], kind: Kind) -> str | None:
    rows = len(values)
    keys = ["" if v is _ABSENT or v is _PLACEHOLDER else _as_category(v) for v in values]
    if Counter(keys).most_common(1)[0][1] > NEAR_CONSTANT_SHARE * rows:
        return "near-constant"
    if rows < MIN_ROWS_FOR_ID_CHECK:  # in a handful of leads every measurement is distinct
        return None
    answered = [v for v in values if v is not _ABSENT and v is not _PLACEHOLDER]
    distinct = len(set(keys)) - ("" in keys)
    if kind == "numeric" and distinct > ID_LIKE_SHARE * rows and all(_as_number(v).is_integer() for v in answered):
        return "identifier"
    if kind == "categorical" and distinct > FREE_TEXT_SHARE * rows:
        return "identifier"
    return None


def plan_features(
    rows: Rows, label: str, id_column: str | None, exclude: Iterable[str] = DEFAULT_EXCLUDED
) -> tuple[list[Feature], dict[str, str]]:
    """The features to learn from, and every other column with the reason it is left out.

    Identifiers such as `Lead Number` are detected, not listed: a column of distinct integers on
    nearly every row is a counter the CRM assigns, and a column of mostly distinct strings is a
    name or an e-mail. Neither says anything a *new* lead shares with past ones, so learning from
    them only fits noise (or, for counters, drift in time). Near-constant columns are dropped too.
    """
    excluded = set(exclude)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    features: list[Feature] = []
    dropped: dict[str, str] = {}
    for column in columns:
        if column == label:
            dropped[column] = "label"
        elif column == id_column:
            dropped[column] = "id"
        elif column in excluded:
            dropped[column] = "excluded"
        else:
            values = [_clean(row.get(column)) for row in rows]
            kind = _kind_of(values)
            reason = _drop_reason(values, kind)
            if reason:
                dropped[column] = reason
            else:
                features.append(Feature(column, kind))
    return features, dropped


# ---------------------------------------------------------------- encoding


class LeadEncoder(TransformerMixin, BaseEstimator):
    """Turns lead rows (dicts or a DataFrame) into the numeric matrix the classifiers learn from.

    Numbers stay numbers; categories become codes by frequency (rare and unseen ones share the last
    code); unanswered values are NaN. Two counts are appended — fields left empty and fields left
    at a placeholder such as "Select" — because *how* a form was filled in says much about intent.
    Written in plain Python so that one lead encodes in microseconds, not pandas' milliseconds.
    """

    def __init__(self, features: Sequence[Feature] = ()):
        self.features = features

    def fit(self, rows: Any, y: Any = None) -> LeadEncoder:
        rows = as_rows(rows)
        self.codes_: list[dict[str, int] | None] = []
        self.baselines_: list[Any] = []
        for feature in self.features:
            values = [_clean(row.get(feature.name)) for row in rows]
            self.codes_.append(self._category_codes(values) if feature.kind == "categorical" else None)
            self.baselines_.append(self._baseline(values, feature.kind))
        self.n_features_in_ = len(self.features)
        return self

    @staticmethod
    def _category_codes(values: list[Any]) -> dict[str, int]:
        counts = Counter(_as_category(v) for v in values if v is not _ABSENT and v is not _PLACEHOLDER)
        kept = [c for c, n in counts.most_common(MAX_CATEGORIES) if n >= MIN_CATEGORY_ROWS]
        return {category: code for code, category in enumerate(kept)}

    @staticmethod
    def _baseline(values: list[Any], kind: Kind) -> Any:
        """The typical lead's value: what a factor is measured against in `explain`."""
        if kind == "numeric":
            numbers = [n for n in map(_as_number, values) if not math.isnan(n)]
            return float(np.median(numbers)) if numbers else _ABSENT
        return Counter(values).most_common(1)[0][0]

    @property
    def categorical_mask(self) -> list[bool]:
        return [f.kind == "categorical" for f in self.features] + [False, False]

    def clean_row(self, row: Mapping[str, Any]) -> list[Any]:
        return [_clean(row.get(f.name)) for f in self.features]

    def encode_clean(self, cleaned: Iterable[list[Any]]) -> np.ndarray:
        """Matrix from rows already passed through `clean_row` (explain edits them in between)."""
        encoded = []
        for values in cleaned:
            line = []
            for value, codes in zip(values, self.codes_, strict=True):
                if codes is None:
                    line.append(_as_number(value))
                elif value is _ABSENT or value is _PLACEHOLDER:
                    line.append(math.nan)
                else:
                    line.append(codes.get(_as_category(value), len(codes)))
            line.append(sum(v is _ABSENT for v in values))
            line.append(sum(v is _PLACEHOLDER for v in values))
            encoded.append(line)
        return np.asarray(encoded, dtype=float).reshape(-1, len(self.features) + 2)

    def transform(self, rows: Any) -> np.ndarray:
        return self.encode_clean(self.clean_row(row) for row in as_rows(rows))


def as_rows(data: Any) -> Rows:
    """Lead rows as a sequence of mappings, from a DataFrame or any iterable of dicts."""
    if isinstance(data, pd.DataFrame):
        return data.to_dict("records")
    if isinstance(data, np.ndarray):
        return list(data)
    return data if isinstance(data, Sequence) else list(data)


# ---------------------------------------------------------------- classifiers


class RateOrderedBoosting(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees that read each category as its (smoothed) won rate.

    Ordering categories by won rate lets one threshold split them as well as a native categorical
    split would (CV AUC was equal or better), while prediction stays a plain numeric pass:
    HistGradientBoosting's categorical path re-encodes its input at ~7 ms per call, too slow for
    scoring leads one by one. Rates are learned inside `fit`, so calibration and cross-validation
    folds never see the rows they are judged on.
    """

    def __init__(self, categorical: Sequence[bool] = (), smoothing: float = 50.0, random_state: int = RANDOM_STATE):
        self.categorical = categorical
        self.smoothing = smoothing
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> RateOrderedBoosting:
        y = np.asarray(y, dtype=float)
        prior = y.mean()
        self.rates_: dict[int, np.ndarray] = {}
        for j in np.flatnonzero(self.categorical):
            answered = ~np.isnan(X[:, j])
            codes = X[answered, j].astype(int)
            size = int(codes.max()) + 2 if codes.size else 1  # one slot past the last: unseen codes
            rows = np.bincount(codes, minlength=size)
            won = np.bincount(codes, weights=y[answered], minlength=size)
            # Shrunk to the overall rate so that a category of three leads cannot look certain.
            self.rates_[int(j)] = (won + self.smoothing * prior) / (rows + self.smoothing)
        # Tuned by repeated 5-fold CV on the shared history; a small forest also keeps scoring fast.
        self.trees_ = HistGradientBoostingClassifier(
            learning_rate=0.08, max_iter=100, max_leaf_nodes=8, min_samples_leaf=40, l2_regularization=3.0,
            early_stopping=False, random_state=self.random_state,
        ).fit(self._rated(X), y.astype(int))
        self.classes_ = self.trees_.classes_
        return self

    def _rated(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=float)
        for j, rates in self.rates_.items():
            answered = ~np.isnan(X[:, j])
            X[answered, j] = rates[np.minimum(X[answered, j].astype(int), len(rates) - 1)]
        return X

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.trees_.predict_proba(self._rated(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class OutOfFoldCalibration(ClassifierMixin, BaseEstimator):
    """A classifier whose probabilities are mapped to observed won rates learned out of fold.

    Isotonic regression on k-fold out-of-fold scores, then a straight line between the centres of
    its blocks: as calibrated as plain isotonic (same CV Brier) but strictly increasing, so it
    keeps the model's ranking (AUC) and `explain` sees every change rather than isotonic's steps.
    One classifier refitted on all rows serves predictions, so scoring a lead runs one model.
    """

    def __init__(self, estimator: Any = None, folds: int = 5, random_state: int = RANDOM_STATE):
        self.estimator = estimator
        self.folds = folds
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> OutOfFoldCalibration:
        splits = StratifiedKFold(self.folds, shuffle=True, random_state=self.random_state)
        scores = cross_val_predict(clone(self.estimator), X, y, cv=splits, method="predict_proba")[:, 1]
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit_transform(scores, y)
        levels, block = np.unique(fitted, return_inverse=True)
        self.curve_scores_ = np.bincount(block, weights=scores) / np.bincount(block)
        self.curve_rates_ = levels
        self.classifier_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.classifier_.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.interp(self.classifier_.predict_proba(X)[:, 1], self.curve_scores_, self.curve_rates_)
        return np.column_stack([1 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def predictive_pipeline(features: Sequence[Feature], calibration_folds: int = 5) -> Pipeline:
    """Encoder, then the boosted trees with out-of-fold calibration."""
    encoder = LeadEncoder(features)
    classifier = OutOfFoldCalibration(RateOrderedBoosting(encoder.categorical_mask), calibration_folds)
    return Pipeline([("encode", encoder), ("classify", classifier)])


def baseline_pipeline(features: Sequence[Feature]) -> Pipeline:
    """Logistic regression on one-hot categories and scaled numbers: the bar to beat."""
    encoder = LeadEncoder(features)
    cats = [i for i, c in enumerate(encoder.categorical_mask) if c]
    nums = [i for i, c in enumerate(encoder.categorical_mask) if not c]
    columns = ColumnTransformer(
        [
            ("categories", make_pipeline(SimpleImputer(strategy="constant", fill_value=-1),
                                         OneHotEncoder(handle_unknown="ignore")), cats),
            ("numbers", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), nums),
        ]
    )
    return Pipeline([("encode", encoder), ("columns", columns), ("classify", LogisticRegression(max_iter=3000))])


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Metrics:
    """Cross-validated quality: mean and standard deviation over the folds."""

    roc_auc: float
    roc_auc_std: float
    brier: float
    brier_std: float
    folds: int


def cross_validate(make: Callable[[], Pipeline], rows: Rows, outcomes: np.ndarray, folds: int) -> Metrics:
    """Stratified k-fold ROC AUC and Brier score of a freshly made pipeline per fold."""
    splits = StratifiedKFold(folds, shuffle=True, random_state=RANDOM_STATE).split(np.zeros(len(outcomes)), outcomes)
    aucs, briers = [], []
    for train, test in splits:
        model = make().fit([rows[i] for i in train], outcomes[train])
        p = model.predict_proba([rows[i] for i in test])[:, 1]
        aucs.append(roc_auc_score(outcomes[test], p))
        briers.append(brier_score_loss(outcomes[test], p))
    return Metrics(float(np.mean(aucs)), float(np.std(aucs)), float(np.mean(briers)), float(np.std(briers)), folds)


# ---------------------------------------------------------------- training


POSITIVE = frozenset({"1", "true", "yes", "y", "won", "converted", "win"})
NEGATIVE = frozenset({"0", "false", "no", "n", "lost", "lose", "not converted"})


def _outcome(value: Any) -> int | None:
    """1 won, 0 lost, None unknown (still open): labels may be 0/1, booleans or words."""
    value = _clean(value)
    if value is _ABSENT or value is _PLACEHOLDER:
        return None
    if isinstance(value, bool | int | float | np.number):
        return int(float(value) != 0)
    word = str(value).strip().casefold()
    return 1 if word in POSITIVE else 0 if word in NEGATIVE else None


@dataclass
class ModelInfo:
    """What `model.json` holds: enough to know which model scored a lead and how good it was."""

    version: str
    created_at: str
    label: str
    id_column: str | None
    features: list[dict[str, str]]
    excluded: dict[str, str]
    metrics: dict[str, dict[str, float]]
    training_rows: int
    positive_rate: float
    model_kind: str = MODEL_KIND
    path: str | None = field(default=None, compare=False)

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "path"}, indent=2, ensure_ascii=False)


def _version(created: datetime, rows: Rows, features: Sequence[Feature]) -> str:
    """`hgb-<UTC timestamp>-<hash of data and features>`: unique and sorts by time."""
    digest = hashlib.sha256()
    digest.update(created.isoformat().encode())
    digest.update(json.dumps([asdict(f) for f in features]).encode())
    digest.update(str(len(rows)).encode())
    for row in rows[:: max(1, len(rows) // 200)]:  # a sample is enough to tell data sets apart
        digest.update(repr(sorted(row.items(), key=lambda kv: kv[0])).encode())
    return f"{MODEL_KIND}-{created:%Y%m%dT%H%M%S}{created.microsecond // 1000:03d}Z-{digest.hexdigest()[:8]}"


def train_model(
    history: Any,
    label: str,
    id_column: str | None = None,
    *,
    out_dir: str | Path,
    exclude: Iterable[str] | None = None,
    folds: int = 5,
    calibration_folds: int = 5,
    report: Callable[[str, Metrics], None] | None = None,
) -> ModelInfo:
    """Learn from past leads' outcomes, cross-validate beside the baseline, save to `out_dir`.

    `history` is a DataFrame or dict rows; rows whose label is empty (leads still open) are skipped.
    `exclude` defaults to DEFAULT_EXCLUDED; `report(name, metrics)` hears each evaluation as it ends.
    Uses one core (benchmarks and the service run beside training).
    """
    rows = [row for row in as_rows(history) if _outcome(row.get(label)) is not None]
    outcomes = np.array([_outcome(row[label]) for row in rows], dtype=int)
    if len(set(outcomes)) < 2:
        raise ValueError(f"{label!r} needs both won and lost leads to learn from")
    features, dropped = plan_features(rows, label, id_column, DEFAULT_EXCLUDED if exclude is None else exclude)
    if not features:
        raise ValueError("no column is left to learn from")
    with threadpool_limits(1):
        metrics = {}
        for name, make in (
            ("model", lambda: predictive_pipeline(features, calibration_folds)),
            ("baseline", lambda: baseline_pipeline(features)),
        ):
            metrics[name] = cross_validate(make, rows, outcomes, folds)
            if report:
                report(name, metrics[name])
        pipeline = predictive_pipeline(features, calibration_folds).fit(rows, outcomes)
    created = datetime.now(UTC)
    info = ModelInfo(
        version=_version(created, rows, features),
        created_at=created.isoformat(timespec="seconds"),
        label=label,
        id_column=id_column,
        features=[asdict(f) for f in features],
        excluded=dropped,
        metrics={name: asdict(m) for name, m in metrics.items()},
        training_rows=len(rows),
        positive_rate=float(outcomes.mean()),
    )
    return save_model(pipeline, info, out_dir)


def exclusions(exclude: Sequence[str] | None = None, config: str | Path | None = None) -> list[str]:
    """Columns to keep out of training: DEFAULT_EXCLUDED unless `exclude` or a config file say otherwise.

    The config file (YAML or JSON) holds `exclude: [columns]`, which replaces the defaults, and may
    add `extend_defaults: true` to keep them as well. Given both, `exclude` and the file's list add up.
    """
    if not exclude and config is None:
        return list(DEFAULT_EXCLUDED)
    columns: list[str] = []
    if config is not None:
        settings = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
        if not isinstance(settings, dict):
            raise ValueError(f"{config}: expected a mapping with an `exclude` list")
        if settings.get("extend_defaults"):
            columns += DEFAULT_EXCLUDED
        columns += [str(c) for c in settings.get("exclude") or []]
    columns += list(exclude or [])
    return list(dict.fromkeys(columns))


def save_model(pipeline: Pipeline, info: ModelInfo, out_dir: str | Path) -> ModelInfo:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out / MODEL_FILE, compress=3)
    (out / META_FILE).write_text(info.to_json() + "\n", encoding="utf-8")
    info.path = str(out)
    return info


# ---------------------------------------------------------------- scoring


class PredictiveModel:
    """A trained model, loaded: scores leads and explains each score."""

    def __init__(self, pipeline: Pipeline, info: ModelInfo):
        self.pipeline = pipeline
        self.info = info
        self.encoder: LeadEncoder = pipeline.named_steps["encode"]
        self.classifier = pipeline.named_steps["classify"]
        self._threads = ThreadpoolController()

    @property
    def version(self) -> str:
        return self.info.version

    def _probabilities(self, matrix: np.ndarray) -> np.ndarray:
        # One thread: for a few leads OpenMP's workers cost more than they give, and when the
        # other core is busy, waiting for them turned a 1 ms p50 into a 5-100 ms p99.
        with self._threads.limit(limits=1, user_api="openmp"):
            return self.classifier.predict_proba(matrix)[:, 1]

    def predict_proba(self, rows: Any) -> list[float]:
        """The chance each lead is won, in [0, 1]; missing columns and unseen values are fine."""
        rows = as_rows(rows)
        if not rows:
            return []
        return self._probabilities(self.encoder.transform(rows)).tolist()

    def explain(self, row: Mapping[str, Any], top: int = 3) -> list[tuple[str, float]]:
        """The `top` features that moved this lead's score most, with signed contributions.

        A contribution is the probability now minus the probability were that one feature at
        the typical lead's value (its baseline), in probability units (+0.12 = 12 points up).
        All substitutions are scored in one batch, so explaining costs one prediction call.
        """
        return self.score_and_explain(row, top)[1]

    def score_and_explain(self, row: Mapping[str, Any], top: int = 3) -> tuple[float, list[tuple[str, float]]]:
        """Probability and top factors of one lead, from one batch prediction."""
        cleaned = self.encoder.clean_row(row)
        variants, names = [cleaned], []
        for i, (feature, baseline) in enumerate(zip(self.encoder.features, self.encoder.baselines_, strict=True)):
            if not _same(cleaned[i], baseline):
                variants.append([*cleaned[:i], baseline, *cleaned[i + 1 :]])
                names.append(feature.name)
        p = self._probabilities(self.encoder.encode_clean(variants))
        factors = [(name, float(p[0] - q)) for name, q in zip(names, p[1:], strict=True)]
        factors.sort(key=lambda f: abs(f[1]), reverse=True)
        return float(p[0]), factors[:top]


def _same(value: Any, baseline: Any) -> bool:
    if value is baseline:
        return True
    if isinstance(value, str) and isinstance(baseline, str):
        return value == baseline
    return _as_number(value) == _as_number(baseline)


def load_model(model_dir: str | Path) -> PredictiveModel:
    """The model saved in `model_dir` by `train_model`."""
    path = Path(model_dir)
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    info = ModelInfo(**{k: v for k, v in meta.items() if k in ModelInfo.__dataclass_fields__}, path=str(path))
    return PredictiveModel(joblib.load(path / MODEL_FILE), info)


def single_lead_latency(model: PredictiveModel, rows: Rows, runs: int = 200) -> dict[str, float]:
    """p50/p99 milliseconds to score and explain one lead (rows cycled, one at a time)."""
    timings = []
    for i in range(runs):
        start = time.perf_counter()
        model.score_and_explain(rows[i % len(rows)])
        timings.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": float(np.percentile(timings, 50)), "p99_ms": float(np.percentile(timings, 99))}
