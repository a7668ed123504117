"""Business days in mainland China: weekends, public holidays (法定节假日) and make-up working days (调休).

The calendar is data pool owns (one file per year, published by the State Council each November and loaded
with `leadflow calendar load FILE`): only the exceptions to Monday–Friday are listed. A day in a year the
calendar lacks counts Monday–Friday, and the deadline that crossed it says so (`assumed_years`), so the
service can warn on its health endpoint and count it in a metric instead of guessing silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


class CalendarFileError(ValueError):
    """A calendar file that cannot be loaded (its problems listed in the message)."""


@dataclass(frozen=True)
class CalendarYear:
    """One year's exceptions: holidays (day → name) and make-up working days (day → name)."""

    year: int
    source: str
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]


@dataclass(frozen=True)
class Deadline:
    at: datetime
    assumed_years: frozenset[int] = frozenset()  # years counted Monday–Friday for want of a calendar


@dataclass(frozen=True)
class BusinessCalendar:
    exceptions: Mapping[date, bool] = field(default_factory=dict)  # day → is it a working day
    years: frozenset[int] = frozenset()
    timezone: ZoneInfo = CHINA
    # Demo and test setting: a business day lasts this long on the wall clock, every day counting.
    day_length: timedelta | None = None

    @classmethod
    def of(cls, years: Iterable[CalendarYear], *, timezone: ZoneInfo = CHINA,
           day_length: timedelta | None = None) -> BusinessCalendar:
        exceptions: dict[date, bool] = {}
        known: set[int] = set()
        for year in years:
            known.add(year.year)
            exceptions.update({day: False for day in year.holidays})
            exceptions.update({day: True for day in year.workdays})
        return cls(exceptions, frozenset(known), timezone, day_length)

    def knows(self, year: int) -> bool:
        return year in self.years

    def is_business_day(self, day: date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day]
        return day.weekday() < 5

    def add_business_days(self, start: datetime, days: int) -> Deadline:
        """The same time of day, `days` business days after `start`, counted on the calendar's local date
        (a lead assigned at 07:00 in Beijing is on that Beijing day, whatever the UTC date says)."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if self.day_length is not None:
            return Deadline(start + self.day_length * days)
        current = start.astimezone(self.timezone)
        assumed: set[int] = set()
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if not self.knows(current.year):
                assumed.add(current.year)
            if self.is_business_day(current.date()):
                remaining -= 1
        return Deadline(current.astimezone(start.tzinfo), frozenset(assumed))

    def missing_years(self, today: date) -> list[int]:
        """This year and next, where the calendar lacks them (deadlines there count Monday–Friday)."""
        return [year for year in (today.year, today.year + 1) if not self.knows(year)]


def parse_calendar_year(data: Any) -> CalendarYear:
    """A year's file: `{year: 2026, source: ..., holidays: {2026-01-01: 元旦, ...}, workdays: {...}}`."""
    if not isinstance(data, dict):
        raise CalendarFileError("a calendar file is a mapping with year, source, holidays and workdays")
    problems: list[str] = []
    year = data.get("year")
    if not isinstance(year, int) or not 1900 < year < 2200:
        raise CalendarFileError(f"year: {year!r} is not a year")
    source = str(data.get("source") or "").strip()
    if not source:
        problems.append("source: say where the schedule comes from (the State Council's notice)")
    holidays = _days(data.get("holidays"), "holidays", year, problems)
    workdays = _days(data.get("workdays"), "workdays", year, problems)
    for day in sorted(set(holidays) & set(workdays)):
        problems.append(f"{day}: both a holiday and a working day")
    for day in sorted(workdays):
        if day.weekday() < 5:
            problems.append(f"workdays.{day}: a make-up working day (调休) falls on a weekend, not a {day:%A}")
    if problems:
        raise CalendarFileError("; ".join(problems))
    return CalendarYear(year, source, holidays, workdays)


def _days(value: Any, section: str, year: int, problems: list[str]) -> dict[date, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{section}: a mapping of dates to names")
        return {}
    days: dict[date, str] = {}
    for key, name in value.items():
        try:
            day = key if isinstance(key, date) else date.fromisoformat(str(key))
        except ValueError:
            problems.append(f"{section}.{key}: not a date (YYYY-MM-DD)")
            continue
        if day.year != year:
            problems.append(f"{section}.{day}: not in {year}")
            continue
        days[day] = str(name or "")
    return days
