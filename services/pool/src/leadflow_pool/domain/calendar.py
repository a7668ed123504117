"""Business days in mainland China: weekends, public holidays and 调休 (swapped working weekends).

chinese-calendar carries the State Council's published schedule; for a year it does not know yet
(published each November for the next year) we fall back to Monday–Friday.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

CHINA = ZoneInfo("Asia/Shanghai")


def is_business_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # year not yet published
        return day.weekday() < 5


def add_business_days(start: datetime, days: int) -> datetime:
    """The same time of day, `days` business days after `start`, counted on the China calendar date
    (a lead assigned at 07:00 in Beijing is on that Beijing day, whatever the UTC date says)."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    current = start.astimezone(CHINA)
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current.date()):
            remaining -= 1
    return current.astimezone(start.tzinfo)
