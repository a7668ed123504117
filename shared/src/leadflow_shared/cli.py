"""The `leadflow` command. Installed packages contribute sub-commands (entry points `leadflow.commands`).

Every command finds the local stack through `.local/env` (unless LEADFLOW_* variables say otherwise),
and a component that does not answer is one line saying what to run, not a traceback.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer
from rich.console import Console

from leadflow_shared import cli_errors
from leadflow_shared.localenv import load_local_env

app = typer.Typer(
    name="leadflow",
    help="leadflow: lead management (线索管理) — run the platform, its services and tools.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def build() -> typer.Typer:
    for ep in sorted(entry_points(group="leadflow.commands"), key=lambda e: e.name):
        command = ep.load()
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=ep.name)
        else:
            app.command(ep.name)(command)
    benches = sorted(entry_points(group="leadflow.bench"), key=lambda e: e.name)
    if benches:
        bench = typer.Typer(help="Benchmarks that print figures beside the raw ceiling of the same run.",
                            no_args_is_help=True)
        for ep in benches:
            bench.command(ep.name)(ep.load())
        app.add_typer(bench, name="bench")
    return app


def main() -> None:
    load_local_env()
    command = build()
    try:
        command()
    except Exception as exc:
        try:
            line = cli_errors.describe(exc)
        except Exception:  # describing it failed too: the original traceback says more
            line = None
        if line is None:
            raise  # a bug: typer shows its traceback
        Console(stderr=True, soft_wrap=True, markup=False, highlight=False).print(f"✗ {line}", style="red")
        raise SystemExit(1) from None
