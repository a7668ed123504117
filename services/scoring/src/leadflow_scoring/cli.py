"""scoring's commands: `leadflow scoring train …` and `leadflow scoring predict …` (the predictive score)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadflow_scoring.predictive import DEFAULT_EXCLUDED, Metrics, ModelInfo, exclusions, load_model, train_model

console = Console(soft_wrap=True)
scoring_app = typer.Typer(help="Predictive lead score: learn from won and lost leads, score new ones.",
                          no_args_is_help=True)
CHUNK_ROWS = 2000  # leads scored per call: big enough to amortise, small enough to show progress


@scoring_app.command()
def train(
    history: Annotated[Path, typer.Option("--history", exists=True, dir_okay=False,
                                          help="CSV of past leads with their outcome.")],
    label: Annotated[str, typer.Option("--label", help="Outcome column: 1/0, yes/no or won/lost.")],
    out: Annotated[Path, typer.Option("--out", file_okay=False, help="Directory for the model artifact.")],
    id_column: Annotated[str | None, typer.Option("--id-column", help="Lead id column (never a feature).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="Column filled in after contact; repeat for more. Replaces the default list: "
        + ", ".join(DEFAULT_EXCLUDED) + ".")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", exists=True, dir_okay=False,
        help="YAML/JSON with `exclude: [...]` (and `extend_defaults: true` to keep the defaults).")] = None,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Cross-validation folds.")] = 5,
) -> None:
    """Train a versioned predictive model and print its cross-validated ROC AUC and Brier score."""
    excluded = exclusions(exclude, config)
    frame = pd.read_csv(history, low_memory=False)
    for column in (label, id_column):
        if column and column not in frame.columns:
            raise typer.BadParameter(f"{history} has no column {column!r}")
    console.print(f"[bold]{len(frame):,}[/] leads from {history}; excluded: {', '.join(excluded) or 'none'}")
    with console.status("cross-validating the model and the baseline…"):
        info = train_model(frame, label, id_column, out_dir=out, exclude=excluded, folds=folds,
                           calibration_folds=folds, report=_report_progress)
    _print_summary(info)


def _report_progress(name: str, metrics: Metrics) -> None:
    console.print(f"  {name}: ROC AUC {metrics.roc_auc:.4f}, Brier {metrics.brier:.4f}")


def _print_summary(info: ModelInfo) -> None:
    table = Table(title=f"{info.metrics['model']['folds']}-fold stratified cross-validation")
    for column in ("", "ROC AUC", "Brier score"):
        table.add_column(column, justify="right" if column else "left")
    for name, title in (("model", "model (boosted trees, calibrated)"), ("baseline", "baseline (logistic regression)")):
        m = info.metrics[name]
        table.add_row(title, f"{m['roc_auc']:.4f} ± {m['roc_auc_std']:.4f}", f"{m['brier']:.4f} ± {m['brier_std']:.4f}")
    console.print(table)
    features = ", ".join(f"{f['name']} ({f['kind'][:3]})" for f in info.features)
    left_out = ", ".join(f"{c} ({why})" for c, why in info.excluded.items())
    console.print(f"features: {features}\nleft out: {left_out}")
    console.print(f"[green]model {info.version}[/] trained on {info.training_rows:,} leads, saved to {info.path}")


@scoring_app.command()
def predict(
    model: Annotated[Path, typer.Option("--model", exists=True, file_okay=False, help="Model directory.")],
    input: Annotated[Path, typer.Option("--input", exists=True, dir_okay=False, help="CSV of leads to score.")],
    output: Annotated[Path, typer.Option("--output", dir_okay=False, help="CSV to write: id,probability.")],
    id_column: Annotated[str | None, typer.Option(
        "--id-column", help="Column copied to `id` (default: the model's id column).")] = None,
) -> None:
    """Score every lead in a CSV: writes `id,probability`, one row per input row, in input order."""
    scorer = load_model(model)
    id_column = id_column or scorer.info.id_column
    if not id_column:
        raise typer.BadParameter("the model names no id column: pass --id-column")
    # The id is copied verbatim, so it is read as text (leading zeros, long numbers survive).
    frame = pd.read_csv(input, dtype={id_column: str}, keep_default_na=True, low_memory=False)
    if id_column not in frame.columns:
        raise typer.BadParameter(f"{input} has no column {id_column!r}")
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="", encoding="utf-8") as sink, _progress() as progress:
        writer = csv.writer(sink)
        writer.writerow(["id", "probability"])
        task = progress.add_task(f"scoring with {scorer.version}", total=len(frame))
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            ids = ["" if isinstance(i, float) and math.isnan(i) else i for i in chunk[id_column]]
            writer.writerows(zip(ids, (f"{p:.6f}" for p in scorer.predict_proba(chunk)), strict=True))
            progress.advance(task, len(chunk))
    console.print(f"[green]{len(frame):,}[/] leads scored by {scorer.version} → {output}")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)
