"""The business-day calendar in force, read from Postgres (and kept fresh), for deadlines."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime, timedelta

from sqlalchemy import select

from leadflow_pool.domain.calendar import BusinessCalendar, CalendarYear
from leadflow_pool.settings import PoolSettings
from leadflow_pool.tables import calendar_days, calendar_years
from leadflow_shared.db import Database
from leadflow_shared.logging import get_logger

log = get_logger(__name__)


class BusinessDays:
    """Component: loads the calendar at start and again every `calendar_refresh_s`."""

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

    async def load(self) -> BusinessCalendar:
        async with self.db.uow() as uow:
            years = (await uow.session.execute(select(calendar_years))).mappings().all()
            days = (await uow.session.execute(select(calendar_days))).mappings().all()
        by_year: dict[int, CalendarYear] = {
            y["year"]: CalendarYear(y["year"], y["source"], {}, {}) for y in years
        }
        for day in days:
            year = by_year.get(day["day"].year)
            if year is not None:
                (year.workdays if day["workday"] else year.holidays)[day["day"]] = day["name"] or ""  # type: ignore[index]
        self.calendar = BusinessCalendar.of(by_year.values(), day_length=self._day_length())
        return self.calendar

    async def start(self) -> None:
        with contextlib.suppress(Exception):  # Postgres away at start: the refresh loop catches up
            await self.load()
        self._task = asyncio.create_task(self._refresh(), name="calendar-refresh")

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.settings.calendar_refresh_s)
            try:
                await self.load()
            except Exception as exc:
                log.warning("calendar not refreshed", error=repr(exc))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def check(self) -> None:
        return None

    def note_assumed(self, years: frozenset[int]) -> None:
        """A deadline was counted Monday–Friday through years the calendar lacks: say so."""
        for year in years - self._warned:
            self._warned.add(year)
            log.warning("deadline counted Monday-Friday: the business-day calendar lacks this year", year=year)

    def missing_years(self, today: date | None = None) -> list[int]:
        if self.calendar.day_length is not None:
            return []
        return self.calendar.missing_years(today or datetime.now(self.calendar.timezone).date())
