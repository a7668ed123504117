"""The business-day calendar in force, read from Postgres (and kept fresh), for deadlines.

The years published when this release was built ship with it (`calendars/cn-<year>.yaml`) and are stored at
start where Postgres lacks them; a year an operator loaded (`leadflow calendar load FILE`) is never replaced.
A year missing altogether is counted Monday–Friday, loudly: a warning on `/health/ready`, a log line and
the metrics below.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime, timedelta
from importlib.resources import files

from prometheus_client import Counter, Gauge
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_pool.db import store_calendar_year
from leadflow_pool.domain.calendar import BusinessCalendar, CalendarYear, parse_calendar_year
from leadflow_pool.settings import PoolSettings
from leadflow_pool.tables import calendar_days, calendar_years
from leadflow_shared.db import Database
from leadflow_shared.documents import parse_yaml
from leadflow_shared.logging import get_logger

log = get_logger(__name__)

MISSING_YEARS = Gauge(
    "leadflow_pool_calendar_missing_years",
    "Of this year and next, how many the business-day calendar lacks (deadlines there count Monday–Friday).",
)
DEADLINES_ASSUMED = Counter(
    "leadflow_pool_deadlines_assumed_total",
    "Deadlines counted Monday–Friday through a year the business-day calendar lacks, by year crossed.",
    ["year"],
)


def shipped_years() -> list[CalendarYear]:
    """The State Council's schedules shipped with pool (one file per year under `calendars/`)."""
    folder = files("leadflow_pool") / "calendars"
    return [parse_calendar_year(parse_yaml(entry.read_text(encoding="utf-8")))
            for entry in sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".yaml")]


async def seed_shipped_years(session: AsyncSession, years: list[CalendarYear]) -> list[int]:
    """Store the shipped years Postgres lacks; the years stored. Claiming the year's row first (insert, on
    conflict nothing) keeps an operator's year as it is and lets one of several starting processes do it."""
    seeded: list[int] = []
    for year in years:
        claimed = await session.scalar(
            insert(calendar_years).values(year=year.year, source=year.source)
            .on_conflict_do_nothing(index_elements=["year"]).returning(calendar_years.c.year))
        if claimed is not None:
            await store_calendar_year(session, year)
            seeded.append(year.year)
    return seeded


async def read_calendar_years(session: AsyncSession) -> list[CalendarYear]:
    """Every year stored, with its holidays and make-up working days, in year order."""
    years = (await session.execute(select(calendar_years).order_by(calendar_years.c.year))).mappings().all()
    days = (await session.execute(select(calendar_days).order_by(calendar_days.c.day))).mappings().all()
    by_year: dict[int, CalendarYear] = {y["year"]: CalendarYear(y["year"], y["source"], {}, {}) for y in years}
    for day in days:
        year = by_year.get(day["day"].year)
        if year is not None:
            (year.workdays if day["workday"] else year.holidays)[day["day"]] = day["name"] or ""  # type: ignore[index]
    return list(by_year.values())


class BusinessDays:
    """Component: seeds the shipped years and loads the calendar at start, and again every
    `calendar_refresh_s`."""

    name = "calendar"

    def __init__(self, settings: PoolSettings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.calendar = BusinessCalendar(day_length=self._day_length())
        self._task: asyncio.Task[None] | None = None
        self._warned: set[int] = set()

    def _day_length(self) -> timedelta | None:
        minutes = self.settings.business_day_minutes
        return timedelta(minutes=minutes) if minutes else None

    async def seed(self) -> list[int]:
        async with self.db.uow() as uow:
            seeded = await seed_shipped_years(uow.session, shipped_years())
            await uow.commit()
        if seeded:
            log.info("business-day calendar seeded from the shipped years", years=seeded)
        return seeded

    async def load(self) -> BusinessCalendar:
        async with self.db.uow() as uow:
            years = await read_calendar_years(uow.session)
        self.calendar = BusinessCalendar.of(years, day_length=self._day_length())
        MISSING_YEARS.set(len(self.missing_years()))
        return self.calendar

    async def start(self) -> None:
        try:
            await self.seed()
            await self.load()
        except Exception as exc:  # Postgres away at start: the refresh loop catches up
            log.warning("calendar not loaded at start", error=repr(exc))
        self._task = asyncio.create_task(self._refresh(), name="calendar-refresh")

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.settings.calendar_refresh_s)
            try:
                if not self.calendar.years:  # never loaded (Postgres was away at start): seed first
                    await self.seed()
                await self.load()
            except Exception as exc:
                log.warning("calendar not refreshed", error=repr(exc))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(self._task, return_exceptions=True)

    async def check(self) -> None:
        return None

    def note_assumed(self, years: frozenset[int]) -> None:
        """A deadline was counted Monday–Friday through years the calendar lacks: counted, and logged once a
        year per process."""
        for year in years:
            DEADLINES_ASSUMED.labels(year=str(year)).inc()
        for year in years - self._warned:
            self._warned.add(year)
            log.warning("deadline counted Monday-Friday: the business-day calendar lacks this year", year=year)

    def missing_years(self, today: date | None = None) -> list[int]:
        if self.calendar.day_length is not None:
            return []
        return self.calendar.missing_years(today or datetime.now(self.calendar.timezone).date())

    def warnings(self, today: date | None = None) -> list[str]:
        """What `/health/ready` says of the calendar: each of this year and next that it lacks."""
        return [f"business-day calendar lacks {year}: deadlines there count Monday–Friday; "
                f"load it with `leadflow calendar load FILE`" for year in self.missing_years(today)]
