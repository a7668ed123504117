"""The `leadflow` command. Installed packages contribute sub-commands (entry points `leadflow.commands`).

Every command finds the local stack through `.local/env` (unless LEADFLOW_* variables say otherwise).
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

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
    build()()
