"""CLI of the local stack: `leadflow stack …`, `leadflow services …`, `leadflow up`, `leadflow down`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from leadflow_localstack import services as services_mod
from leadflow_localstack import stack as stack_mod
from leadflow_localstack.components import StackError

console = Console(soft_wrap=True)
stack_app = typer.Typer(help="Postgres, Kafka and Temporal as local processes (no Docker).", no_args_is_help=True)
services_app = typer.Typer(help="The five leadflow services as local processes.", no_args_is_help=True)

Components = Annotated[list[str] | None, typer.Argument(help="postgres, kafka, temporal (default: all)")]
Services = Annotated[list[str] | None, typer.Argument(help="intake, scoring, ... (default: all)")]


def _fail(exc: StackError) -> None:
    console.print(f"[red]✗ {exc}[/]")
    raise typer.Exit(1)


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n else "-"


@stack_app.command("up")
def stack_up(components: Components = None) -> None:
    """Start what is missing and wait until each component is healthy."""
    try:
        env = stack_mod.up(components)
    except StackError as exc:
        _fail(exc)
    for key, value in sorted(env.items()):
        console.print(f"  {key}={value}")


@stack_app.command("down")
def stack_down(components: Components = None) -> None:
    """Stop what `up` started (external components are left alone)."""
    stack_mod.down(components)


@stack_app.command("status")
def stack_status() -> None:
    _table("stack", stack_mod.status(), ["name", "state", "address", "pid", "memory"])


@services_app.command("up")
def services_up(names: Services = None) -> None:
    """Apply migrations, start the services, wait until each is ready."""
    try:
        services_mod.up(names)
    except StackError as exc:
        _fail(exc)


@services_app.command("down")
def services_down(names: Services = None) -> None:
    services_mod.down(names)


@services_app.command("status")
def services_status() -> None:
    _table("services", services_mod.status(), ["name", "state", "url", "ready", "pid", "memory"])


def up() -> None:
    """Stack and services: everything `make demo` runs."""
    try:
        stack_mod.up()
        services_mod.up()
    except StackError as exc:
        _fail(exc)


def down() -> None:
    """Stop the services, then the stack."""
    services_mod.down()
    stack_mod.down()


def _table(title: str, rows: list[dict[str, object]], columns: list[str]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    total = 0
    for row in rows:
        total += int(row.get("rss") or 0)
        table.add_row(*[_mb(int(row["rss"] or 0)) if c == "memory" else str(row.get(c) or "-") for c in columns])
    console.print(table)
    console.print(f"memory in use (PSS): {_mb(total)}")
