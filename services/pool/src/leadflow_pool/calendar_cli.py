"""The operator's commands for the business-day calendar (法定节假日 and 调休): `leadflow calendar load FILE`
(a year's schedule, as the State Council publishes it each November), `leadflow calendar show [YEAR]`, and
`leadflow calendar generate YEAR` (a year's file from the `chinese-calendar` package, to review and load)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import chinese_calendar
import typer
import yaml
from chinese_calendar.constants import Holiday
from rich.console import Console
from rich.table import Table

from leadflow_pool.business_days import read_calendar_years
from leadflow_pool.cli import run_in_pool_db
from leadflow_pool.db import store_calendar_year
from leadflow_pool.domain.calendar import CHINA, CalendarFileError, CalendarYear, parse_calendar_year
from leadflow_shared.db import UnitOfWork
from leadflow_shared.documents import DocumentError, parse_yaml

console = Console(soft_wrap=True)
T = TypeVar("T")

app = typer.Typer(help="The business-day calendar (法定节假日, 调休) that deadlines count on: one file per year.",
                  no_args_is_help=True)


def read_calendar_file(text: str) -> CalendarYear:
    """A year's file; CalendarFileError lists its problems (YAML that does not parse is one of them)."""
    try:
        data = parse_yaml(text)
    except DocumentError as exc:
        raise CalendarFileError(str(exc)) from None
    return parse_calendar_year(data)


def load_calendar(text: str, *, dsn: str | None = None) -> CalendarYear:
    """Validate a year's file and store it, replacing that year."""
    year = read_calendar_file(text)

    async def work(uow: UnitOfWork) -> None:
        await store_calendar_year(uow.session, year)

    run_in_pool_db(work, dsn)
    return year


def stored_years(dsn: str | None = None) -> list[CalendarYear]:
    async def work(uow: UnitOfWork) -> list[CalendarYear]:
        return await read_calendar_years(uow.session)

    return run_in_pool_db(work, dsn)


def package_year(year: int, source: str) -> dict[str, Any]:
    """A year's file from the `chinese-calendar` package: its holidays and make-up working days, named."""
    holidays = {day: Holiday(name).chinese for day, name in sorted(chinese_calendar.holidays.items())
                if day.year == year}
    if not holidays:
        raise CalendarFileError(f"the installed chinese-calendar package has no schedule for {year}")
    workdays = {day: f"{Holiday(name).chinese}调休" for day, name in sorted(chinese_calendar.workdays.items())
                if day.year == year}
    return {"year": year, "source": source, "holidays": holidays, "workdays": workdays}


@app.command("load")
def calendar_load(path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True)) -> None:
    """Validate a year's file and make it the one in force for that year (it replaces what was loaded)."""
    try:
        year = load_calendar(path.read_text(encoding="utf-8"))
    except CalendarFileError as exc:
        console.print(f"[red]✗ {path} not loaded; nothing was changed:[/red]")
        for problem in str(exc).split("; "):
            console.print(f"  {problem}", markup=False)
        raise typer.Exit(1) from None
    console.print(f"✓ {year.year} loaded from {path}: {len(year.holidays)} holidays, "
                  f"{len(year.workdays)} make-up working days (调休)", markup=False)


@app.command("show")
def calendar_show(year: int | None = typer.Argument(None, help="The year to list (this year if not given).")) -> None:
    """The years loaded, and a year's holidays and make-up working days."""
    years = {y.year: y for y in stored_years()}
    wanted = year or datetime.now(CHINA).year
    loaded = ", ".join(str(y) for y in years) or "none"
    console.print(f"years loaded: {loaded}", markup=False)
    shown = years.get(wanted)
    if shown is None:
        console.print(f"[yellow]{wanted} is not loaded: its deadlines count Monday–Friday[/yellow]")
        raise typer.Exit(1 if year is not None else 0)
    table = Table(title=f"{wanted}: {shown.source}")
    for column in ("day", "weekday", "kind", "name"):
        table.add_column(column)
    days = sorted([(d, "holiday", n) for d, n in shown.holidays.items()]
                  + [(d, "working day (调休)", n) for d, n in shown.workdays.items()])
    for day, kind, name in days:
        table.add_row(day.isoformat(), f"{day:%a}", kind, name)
    console.print(table)


@app.command("generate")
def calendar_generate(
    year: int,
    source: str = typer.Option(None, help="The State Council's notice (default: its usual title for the year)."),
) -> None:
    """Print a year's file made from the installed `chinese-calendar` package (review it, then `load` it)."""
    try:
        data = package_year(year, source or f"国务院办公厅关于{year}年部分节假日安排的通知")
    except CalendarFileError as exc:
        console.print(f"[red]✗ {exc}[/red]")
        raise typer.Exit(1) from None
    typer.echo(f"# leadflow calendar generate {year}: from chinese-calendar {chinese_calendar.__version__}\n"
               + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), nl=False)
