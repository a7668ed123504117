"""The operator's commands: `leadflow registry load`, `leadflow scoring keys|rules|models …`,
`leadflow scoring rescore` (training and prediction are in cli.py)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadflow_scoring import views
from leadflow_scoring.db import ApiKeyRepository, ModelRepository, RegistryRepository, RuleSetRepository, metadata
from leadflow_scoring.domain.rules import RulesError
from leadflow_scoring.domain.rules_yaml import load_rules_yaml
from leadflow_scoring.registry import read_registry_csv
from leadflow_scoring.settings import ScoringSettings
from leadflow_shared.auth import hash_key
from leadflow_shared.db import Database, UnitOfWork, run_transaction

console = Console(soft_wrap=True)
T = TypeVar("T")

registry_app = typer.Typer(help="The company registry that fills leads' blanks (客商系统).", no_args_is_help=True)
keys_app = typer.Typer(help="Partners' API keys for scoring's HTTP API (posting activities); staff use a staff "
                            "token (`leadflow staff token`).", no_args_is_help=True)
rules_app = typer.Typer(help="Scoring rule sets (YAML): validate, load and activate, show.", no_args_is_help=True)
models_app = typer.Typer(help="Predictive models kept in the database: store, activate, list.", no_args_is_help=True)
ROLES = ("partner",)
STAFF_KEYS_RETIRED = ("API keys are for partners only: staff call scoring with a staff token "
                      "(`leadflow staff token --user U --role rep|sdr|manager|admin`, or your identity provider's)")


def _database(dsn: str | None = None) -> Database:
    return Database(dsn or ScoringSettings().pg_dsn, metadata, "/leadflow/scoring-cli", pool_size=2)


def _run(work: Callable[[UnitOfWork], Awaitable[T]], dsn: str | None = None) -> T:
    return run_transaction(lambda: _database(dsn), work)  # type: ignore[no-any-return]


def _read(query: Callable[[Database], Awaitable[T]]) -> T:
    """A query of the read side (views.py), with a database of its own."""
    async def go() -> T:
        db = _database()
        try:
            return await query(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


# ---- registry ------------------------------------------------------------------------------------

def load_registry(path: Path, *, source: str, dsn: str | None = None, chunk: int = 2000,
                  on_progress: Callable[[int], None] | None = None) -> tuple[int, list[tuple[int, str]]]:
    """Load a registry CSV; returns (companies loaded, [(line, reason) refused])."""
    parsed = list(read_registry_csv(path.read_bytes(), source))
    rows = [r for _, r in parsed if isinstance(r, dict)]
    refused = [(line, r) for line, r in parsed if isinstance(r, str)]

    async def work(uow: UnitOfWork) -> int:
        for start in range(0, len(rows), chunk):
            await RegistryRepository(uow.session).load(rows[start:start + chunk])
            if on_progress:
                on_progress(len(rows[start:start + chunk]))
        return len(rows)

    return _run(work, dsn), refused


@registry_app.command("load")
def registry_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV: name/企业名称, credit_code/"
                                         "统一社会信用代码, industry, size, registered_capital, province, city, founded, status")],
    source: Annotated[str | None, typer.Option(help="Where the data comes from (recorded on every match)")] = None,
) -> None:
    """Load companies (a company with a credit code already loaded is replaced)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("loading companies", total=None)
        try:
            loaded, refused = load_registry(file, source=source or file.name,
                                            on_progress=lambda n: progress.advance(task, n))
        except ValueError as exc:  # not a registry CSV at all: say why, no traceback
            console.print(f"[red]{file}: {exc}[/]")
            raise typer.Exit(1) from exc
    console.print(f"{loaded:,} companies loaded from {file.name}; {len(refused)} rows refused")
    for line, reason in refused[:20]:
        console.print(f"  line {line}: {reason}")
    if len(refused) > 20:
        console.print(f"  … and {len(refused) - 20} more")


# ---- API keys ------------------------------------------------------------------------------------

def add_key(name: str, role: str, dsn: str | None = None) -> tuple[str, str]:
    """A new API key (returned once; only its hash is kept): (key id, key)."""
    if role == "staff":
        raise typer.BadParameter(STAFF_KEYS_RETIRED)
    if role not in ROLES:
        raise typer.BadParameter(f"role is one of {', '.join(ROLES)}")
    key_id, key = "k_" + secrets.token_hex(6), "ls_" + secrets.token_urlsafe(32)
    _run(lambda uow: ApiKeyRepository(uow.session).add(key_id, name, role, hash_key(key)), dsn)
    return key_id, key


@keys_app.command("create")
def keys_create(name: str, role: Annotated[str, typer.Option(help="partner (staff use `leadflow staff token`)")]
                = "partner") -> None:
    """Create a key; it is printed once, alone on the last line."""
    key_id, key = add_key(name, role)
    console.print(f"key {key_id} for {name} ({role}); keep it now, it is not shown again:")
    print(key)


@keys_app.command("list")
def keys_list() -> None:
    table = Table("id", "name", "role", "created", "revoked")
    for row in _run(lambda uow: ApiKeyRepository(uow.session).all()):
        table.add_row(row["id"], row["name"], row["role"], f"{row['created_at']:%Y-%m-%d %H:%M}",
                      f"{row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    if not _run(lambda uow: ApiKeyRepository(uow.session).revoke(key_id)):
        console.print(f"[red]no live key {key_id}[/]")
        raise typer.Exit(1)
    console.print(f"key {key_id} revoked")


# ---- rules ---------------------------------------------------------------------------------------

def _parse_or_exit(file: Path) -> tuple[str, Any]:
    text = file.read_text(encoding="utf-8")
    try:
        return text, load_rules_yaml(text)
    except RulesError as exc:
        console.print(f"[red]{file} has {len(exc.problems)} problem(s):[/]")
        for problem in exc.problems:
            console.print(f"  {problem.path}: {problem.message}")
        raise typer.Exit(1) from exc


@rules_app.command("validate")
def rules_validate(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Check a rule set and print its version; exit 1 with every problem otherwise."""
    _, rules = _parse_or_exit(file)
    console.print(f"{file}: valid, version {rules.version}")


@rules_app.command("load")
def rules_load(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
               activate: Annotated[bool, typer.Option(help="make it the active rule set")] = True) -> None:
    """Keep a rule set (and activate it): every replica swaps to it within LEADFLOW_SCORING_WATCH_INTERVAL_S."""
    text, rules = _parse_or_exit(file)

    async def work(uow: UnitOfWork) -> bool:
        repo = RuleSetRepository(uow.session)
        if not await repo.store(rules.version, text, "cli"):
            return False
        return not activate or await repo.activate(rules.version)

    if not _run(work):
        console.print(f"[red]version {rules.version} exists with other rules: give the file a new version[/]")
        raise typer.Exit(1)
    console.print(f"rules {rules.version} loaded{' and active' if activate else ''}")


@rules_app.command("show")
def rules_show() -> None:
    active = _run(lambda uow: RuleSetRepository(uow.session).active())
    print(active["yaml"] if active else "no active rules")


# ---- models --------------------------------------------------------------------------------------

def store_model(directory: Path, *, activate: bool, dsn: str | None = None) -> str:
    """Keep a trained model directory in the database (and activate it); returns its version."""
    import json

    from leadflow_scoring.jobs import pack_model

    info = json.loads((directory / "model.json").read_text(encoding="utf-8"))

    async def work(uow: UnitOfWork) -> None:
        repo = ModelRepository(uow.session)
        await repo.store(info["version"], pack_model(directory), info)
        if activate:
            await repo.activate(info["version"])

    _run(work, dsn)
    return str(info["version"])


@models_app.command("store")
def models_store(directory: Annotated[Path, typer.Argument(exists=True, file_okay=False)],
                 activate: Annotated[bool, typer.Option(help="make it the active model (hot swap)")] = True) -> None:
    """Keep a model trained by `leadflow scoring train` (and activate it)."""
    version = store_model(directory, activate=activate)
    console.print(f"model {version} stored{' and active' if activate else ''}")


@models_app.command("list")
def models_list() -> None:
    table = Table("version", "active", "rows", "cv roc auc", "cv brier", "created")
    for row in _read(views.predictive_models):
        model = row["info"].get("metrics", {}).get("model", {})
        table.add_row(row["version"], "✓" if row["active"] else "", str(row["info"].get("training_rows", "")),
                      f"{model.get('roc_auc', '')}", f"{model.get('brier', '')}", f"{row['created_at']:%Y-%m-%d %H:%M}")
    console.print(table)


@models_app.command("activate")
def models_activate(version: str) -> None:
    if not _run(lambda uow: ModelRepository(uow.session).activate(version)):
        console.print(f"[red]no model {version}[/]")
        raise typer.Exit(1)
    console.print(f"model {version} active")


def train_from_outcomes(out_dir: Path, *, folds: int = 5, activate: bool = False, dsn: str | None = None) -> Any:
    """Train on the leads whose opportunity was won or lost (opportunities.closed.v1), as scoring saw them
    when they arrived (fields, custom attributes, activity counts); keep it, and activate it if asked."""
    from leadflow_scoring.domain.scorer import model_features
    from leadflow_scoring.predictive import train_model

    history = _run(lambda uow: ModelRepository(uow.session).outcome_history(), dsn)
    rows = [{**model_features(row), "lead_id": str(row["lead_id"]), "outcome": row["outcome"]} for row in history]
    if len({r["outcome"] for r in rows}) < 2 or len(rows) < 2 * folds:
        raise typer.BadParameter(f"{len(rows)} closed leads: need won and lost ones, at least {2 * folds}")
    info = train_model(rows, "outcome", "lead_id", out_dir=out_dir, exclude=[], folds=folds, calibration_folds=folds)
    store_model(out_dir, activate=activate, dsn=dsn)
    return info


@models_app.command("train")
def models_train(
    out: Annotated[Path, typer.Option("--out", file_okay=False, help="Directory for the model artifact")],
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds")] = 5,
    activate: Annotated[bool, typer.Option(help="make it the active model (hot swap)")] = False,
) -> None:
    """Train from scoring's own outcome history (leads later won or lost) and keep the model."""
    with console.status("training on the won and lost leads…"):
        info = train_from_outcomes(out, folds=folds, activate=activate)
    model, baseline = info.metrics["model"], info.metrics["baseline"]
    console.print(f"model {info.version} from {info.training_rows:,} closed leads: cross-validated ROC AUC "
                  f"{model['roc_auc']:.4f}, Brier {model['brier']:.4f} (logistic baseline {baseline['roc_auc']:.4f}, "
                  f"{baseline['brier']:.4f}){'; active' if activate else ''}")


# ---- re-scoring ----------------------------------------------------------------------------------

def rescore_command() -> None:
    """Re-score every lead now under the active rules (the periodic job does it over time)."""
    from leadflow_scoring.domain.scorer import Scorer
    from leadflow_scoring.handlers import ScoringHandlers
    from leadflow_scoring.jobs import load_packed_model, rescore_due
    from leadflow_scoring.registry import TableRegistry

    async def go() -> tuple[int, int]:
        db = _database()
        try:
            async with db.uow() as uow:
                active = await RuleSetRepository(uow.session).active()
                model_version = await ModelRepository(uow.session).active_version()
                artifact = await ModelRepository(uow.session).artifact(model_version) if model_version else None
            if active is None:
                raise typer.BadParameter("no active rules: start scoring once or `leadflow scoring rules load`")
            scorer = Scorer(load_rules_yaml(active["yaml"]), load_packed_model(artifact) if artifact else None)
            handlers = ScoringHandlers(lambda: scorer, TableRegistry())
            with Progress(TextColumn("re-scoring"), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
                task = bar.add_task("", total=None)
                return await rescore_due(db, handlers, scorer, datetime.now(UTC), 500,
                                         progress=lambda n: bar.advance(task, n))
        finally:
            await db.dispose()

    rescored, published = asyncio.run(go())
    console.print(f"{rescored:,} leads re-scored; {published:,} changed and were published")
