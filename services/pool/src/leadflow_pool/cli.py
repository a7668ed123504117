"""The operator's commands: `leadflow pools load|validate|export` (the pools document, kept in Git)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console

from leadflow_pool.db import current_pools, metadata, store_pools
from leadflow_pool.domain.pools import dump_pools_yaml, load_pools_yaml
from leadflow_pool.settings import PoolSettings
from leadflow_shared.db import Database, UnitOfWork, run_transaction
from leadflow_shared.documents import DocumentError

console = Console(soft_wrap=True)
T = TypeVar("T")

pools_app = typer.Typer(help="Public pools (公海): members, rules and reason lists — a YAML file kept in Git.",
                        no_args_is_help=True)


def run_in_pool_db(work: Callable[[UnitOfWork], Awaitable[T]], dsn: str | None = None) -> T:
    settings = PoolSettings()
    database = lambda: Database(dsn or settings.pg_dsn, metadata, "/leadflow/pool-cli", pool_size=2)  # noqa: E731
    return run_transaction(database, work)  # type: ignore[no-any-return]


def _refused(exc: DocumentError) -> None:
    console.print(f"[red]✗ pools document refused whole ({len(exc.problems)} errors); nothing was applied:[/red]")
    for problem in exc.problems:
        console.print(f"  {problem}", markup=False)
    raise typer.Exit(1)


def load_pools(text: str, *, by: str = "cli", dsn: str | None = None) -> int:
    document = load_pools_yaml(text)

    async def work(uow: UnitOfWork) -> int:
        return await store_pools(uow.session, document, by)

    return run_in_pool_db(work, dsn)


@pools_app.command("load")
def pools_load(path: Path) -> None:
    """Validate a pools document and make it the one in force (a new version)."""
    try:
        version = load_pools(path.read_text(encoding="utf-8"))
    except DocumentError as exc:
        _refused(exc)
    console.print(f"✓ pools document loaded from {path}: version {version}")


@pools_app.command("validate")
def pools_validate(path: Path) -> None:
    """Check a pools document without loading it."""
    try:
        document = load_pools_yaml(path.read_text(encoding="utf-8"))
    except DocumentError as exc:
        _refused(exc)
    console.print(f"✓ {path} is valid: {len(document.pools)} pools ({', '.join(p.id for p in document.pools)})")


@pools_app.command("export")
def pools_export() -> None:
    """Print the pools document in force as YAML."""

    async def work(uow: UnitOfWork) -> str:
        return dump_pools_yaml((await current_pools(uow.session))[1])

    typer.echo(run_in_pool_db(work), nl=False)
