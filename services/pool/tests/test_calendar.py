from datetime import UTC, date, datetime

import pytest

from leadflow_pool.domain.calendar import CHINA, add_business_days, is_business_day
from leadflow_pool.domain.model import follow_up_deadline, workflow_id


@pytest.mark.parametrize(
    ("day", "business"),
    [
        (date(2026, 10, 1), False),  # National Day
        (date(2026, 10, 8), True),
        (date(2026, 9, 20), True),  # a Sunday worked for National Day (调休)
        (date(2026, 10, 10), True),  # a Saturday worked (调休)
        (date(2026, 11, 21), False),  # an ordinary Saturday
        (date(2027, 1, 4), True),  # a year not yet published: Monday–Friday
        (date(2027, 1, 9), False),
    ],
)
def test_business_days_know_holidays_and_swapped_weekends(day: date, business: bool) -> None:
    assert is_business_day(day) is business


def test_deadlines_skip_the_golden_week() -> None:
    # Assigned on Wednesday 30 September 2026: the holiday runs 1–7 October.
    assigned = datetime(2026, 9, 30, 10, 0, tzinfo=CHINA)
    assert add_business_days(assigned, 1) == datetime(2026, 10, 8, 10, 0, tzinfo=CHINA)
    assert add_business_days(assigned, 3) == datetime(2026, 10, 10, 10, 0, tzinfo=CHINA)  # a worked Saturday


def test_deadlines_skip_an_ordinary_weekend() -> None:
    friday = datetime(2026, 11, 20, 17, 30, tzinfo=CHINA)
    deadline = follow_up_deadline("lead-1", "rep-a", "public", friday, 3)
    assert deadline.deadline == datetime(2026, 11, 25, 17, 30, tzinfo=CHINA)  # Mon, Tue, Wed
    assert workflow_id("lead-1") == "follow-up-lead-1"


def test_days_are_counted_on_the_china_calendar_not_utc() -> None:
    # Friday 20 November 2026, 07:00 in Beijing is still Thursday 23:00 UTC.
    assigned = datetime(2026, 11, 19, 23, 0, tzinfo=UTC)
    # one business day after Friday (Beijing) is Monday 23 November, 07:00 Beijing
    assert add_business_days(assigned, 1) == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        add_business_days(datetime(2026, 11, 20, 9, 0), 1)
