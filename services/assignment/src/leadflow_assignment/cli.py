"""The operator's commands: `leadflow org load|export|validate` (the organisation, kept in Git) and
`leadflow assignment rules …` and `leadflow assignment simulate` (rules, and what a proposed set would do)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from leadflow_assignment.assigner import Assigner
from leadflow_assignment.db import metadata
from leadflow_assignment.domain.org import DocumentError, dump_organisation_yaml, load_organisation_yaml, parse_yaml
from leadflow_assignment.domain.rules import dump_rules_yaml, load_rules_yaml
from leadflow_assignment.settings import AssignmentSettings
from leadflow_shared.db import Database, UnitOfWork, run_transaction

console = Console(soft_wrap=True)
T = TypeVar("T")

org_app = typer.Typer(help="The sales organisation (组织): teams, territories, reps — a YAML file kept in Git.",
                      no_args_is_help=True)
rules_app = typer.Typer(help="Assignment rules (分配规则), YAML: validate, load, export.", no_args_is_help=True)


def _run(work: Callable[[Assigner, UnitOfWork], Awaitable[T]], dsn: str | None = None) -> T:
    settings = AssignmentSettings()
    assigner = Assigner(settings)
    database = lambda: Database(dsn or settings.pg_dsn, metadata, "/leadflow/assignment-cli", pool_size=2)  # noqa: E731
    return run_transaction(database, lambda uow: work(assigner, uow))  # type: ignore[no-any-return]


def _refused(exc: DocumentError, what: str) -> None:
    console.print(f"[red]✗ {what} refused whole ({len(exc.problems)} errors); nothing was applied:[/red]")
    for problem in exc.problems:
        console.print(f"  {problem}", markup=False)
    raise typer.Exit(1)


def load_org(text: str, *, by: str | None = "cli", dsn: str | None = None) -> int:
    org = load_organisation_yaml(text)

    async def work(assigner: Assigner, uow: UnitOfWork) -> int:
        return await assigner.store_org(uow, org, by)

    return _run(work, dsn)


def load_rules(text: str, *, by: str | None = "cli", dsn: str | None = None) -> int:
    document = parse_yaml(text)

    async def work(assigner: Assigner, uow: UnitOfWork) -> int:
        return await assigner.store_rules(uow, document, by)

    return _run(work, dsn)


@org_app.command("load")
def org_load(path: Path) -> None:
    """Load FILE.yaml as the new organisation, validated whole (every error with its path)."""
    try:
        version = load_org(path.read_text(encoding="utf-8"))
    except DocumentError as exc:
        _refused(exc, str(path))
    console.print(f"✓ organisation version {version} loaded from {path}")


@org_app.command("validate")
def org_validate(path: Path) -> None:
    """Check FILE.yaml without loading it."""
    try:
        org = load_organisation_yaml(path.read_text(encoding="utf-8"))
    except DocumentError as exc:
        _refused(exc, str(path))
    console.print(f"✓ {path}: {len(org.teams)} teams, {len(org.territories)} territories, {len(org.reps)} reps")


@org_app.command("export")
def org_export() -> None:
    """Print the organisation in force as YAML (to commit to Git)."""
    async def work(assigner: Assigner, uow: UnitOfWork) -> str:
        await assigner.catalogue.refresh(uow.session)
        return dump_organisation_yaml(assigner.catalogue.org)

    typer.echo(_run(work), nl=False)


@rules_app.command("load")
def rules_load(path: Path) -> None:
    """Load FILE.yaml as the new rule set (a new version), validated whole against the organisation."""
    try:
        version = load_rules(path.read_text(encoding="utf-8"))
    except DocumentError as exc:
        _refused(exc, str(path))
    console.print(f"✓ rules version {version} loaded from {path}")


@rules_app.command("export")
def rules_export() -> None:
    """Print the rule set in force as YAML."""
    async def work(assigner: Assigner, uow: UnitOfWork) -> str:
        await assigner.catalogue.refresh(uow.session)
        return f"# version {assigner.catalogue.rules.version}\n" + dump_rules_yaml(assigner.catalogue.rules)

    typer.echo(_run(work), nl=False)


@rules_app.command("validate")
def rules_validate(path: Path) -> None:
    """Check FILE.yaml (against the organisation in force) without loading it."""
    async def work(assigner: Assigner, uow: UnitOfWork) -> Any:
        await assigner.catalogue.refresh(uow.session)
        return load_rules_yaml(path.read_text(encoding="utf-8"), assigner.catalogue.org)

    try:
        rules = _run(work)
    except DocumentError as exc:
        _refused(exc, str(path))
    console.print(f"✓ {path}: {len(rules.rules)} rules, {len(rules.teams)} teams' own lists")


def simulate(rules: Annotated[Path, typer.Option("--rules", help="The proposed rule set (YAML).")],
             start: Annotated[datetime | None, typer.Option("--from", help="First routing time replayed.")] = None,
             end: Annotated[datetime | None, typer.Option("--to", help="Routing time replayed up to (excluded).")] = None,
             limit: Annotated[int, typer.Option(help="Most leads replayed.")] = 100_000,
             as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False) -> None:
    """Replay a period's leads under a proposed rule set beside the current one (收益预估)."""
    zone = AssignmentSettings().business_timezone
    start, end = (_aware(t, zone) for t in (start, end))
    proposed = parse_yaml(rules.read_text(encoding="utf-8"))

    async def work(assigner: Assigner, uow: UnitOfWork) -> dict[str, Any]:
        return await assigner.simulate(uow, proposed, start, end, limit)

    try:
        report = _run(work)
    except DocumentError as exc:
        _refused(exc, str(rules))
    if as_json:
        typer.echo(json.dumps(report, default=str, ensure_ascii=False, indent=2))
        return
    _print_report(report)


def _aware(value: datetime | None, zone: str) -> datetime | None:
    from zoneinfo import ZoneInfo

    return value if value is None or value.tzinfo else (value.replace(tzinfo=ZoneInfo(zone)) if value else None)


def _print_report(report: dict[str, Any]) -> None:
    current, proposed = report["current"], report["proposed"]
    console.print(f"{report['leads']} leads replayed (current rules version {current['rules_version']})")
    summary = Table("", "current", "proposed")
    for key in ("assigned", "pooled", "queued"):
        summary.add_row(key, str(current["outcomes"].get(key, 0)), str(proposed["outcomes"].get(key, 0)))
    summary.add_row("cap overflows", str(current["cap_overflows"]), str(proposed["cap_overflows"]))
    summary.add_row("expected conversions", f"{current['expected_conversions']:.1f}",
                    f"{proposed['expected_conversions']:.1f}")
    console.print(summary)
    gain = report["expected_conversions_gain"]
    pct = report["expected_conversions_gain_pct"]
    console.print(f"expected conversions gain: {gain:+.1f}" + (f" ({pct:+.1f}%)" if pct is not None else ""))
    reps = Table("rep", "current leads", "proposed leads", "current by grade", "proposed by grade")
    for rep in sorted(set(current["per_rep"]) | set(proposed["per_rep"])):
        a, b = current["per_rep"].get(rep, {}), proposed["per_rep"].get(rep, {})
        reps.add_row(rep, str(a.get("leads", 0)), str(b.get("leads", 0)), _grades(a), _grades(b))
    console.print(reps)


def _grades(row: dict[str, Any]) -> str:
    return " ".join(f"{g}:{n}" for g, n in sorted(row.get("by_grade", {}).items()))
