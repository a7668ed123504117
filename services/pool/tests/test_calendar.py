"""The business-day calendar: files refused with their problems, stored and read back, the shipped years as the
State Council published them, Monday–Friday (counted and warned of) where a year is missing, the CLI and the
warning on `/health/ready`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from leadflow_localstack.testing import eventually
from leadflow_pool import business_days as business_days_module
from leadflow_pool.app import service
from leadflow_pool.business_days import BusinessDays, read_calendar_years, seed_shipped_years, shipped_years
from leadflow_pool.calendar_cli import app as calendar_cli, package_year
from leadflow_pool.db import store_calendar_year
from leadflow_pool.domain.calendar import CHINA, BusinessCalendar, CalendarFileError, CalendarYear, parse_calendar_year
from leadflow_pool.settings import PoolSettings
from leadflow_pool.tables import calendar_days, calendar_years
from leadflow_shared.db import Database

GOOD = {"year": 2026, "source": "国务院办公厅关于2026年部分节假日安排的通知",
        "holidays": {date(2026, 10, 1): "国庆节", "2026-10-02": "国庆节"},
        "workdays": {date(2026, 10, 10): "国庆节调休"}}


async def forget_years(db: Database, *years: int) -> None:
    async with db.uow() as uow:
        for year in years:
            await uow.session.execute(calendar_days.delete().where(
                calendar_days.c.day.between(date(year, 1, 1), date(year, 12, 31))))
            await uow.session.execute(calendar_years.delete().where(calendar_years.c.year == year))
        await uow.commit()


def assumed(year: int) -> float:
    return REGISTRY.get_sample_value("leadflow_pool_deadlines_assumed_total", {"year": str(year)}) or 0.0


# parsing

@pytest.mark.parametrize(("data", "problem"), [
    ([], "a calendar file is a mapping"),
    ({"year": "next"}, "year: 'next' is not a year"),
    ({**GOOD, "source": " "}, "source: say where the schedule comes from"),
    ({**GOOD, "holidays": {"2026-13-01": "?"}}, "holidays.2026-13-01: not a date (YYYY-MM-DD)"),
    ({**GOOD, "holidays": {"2025-10-01": "国庆节"}}, "holidays.2025-10-01: not in 2026"),
    ({**GOOD, "holidays": ["2026-10-01"]}, "holidays: a mapping of dates to names"),
    ({**GOOD, "workdays": {"2026-10-01": "x"}}, "2026-10-01: both a holiday and a working day"),
    ({**GOOD, "workdays": {"2026-10-09": "x"}}, "workdays.2026-10-09: a make-up working day (调休) falls on a weekend"),
])
def test_a_bad_file_is_refused_with_its_problem(data: Any, problem: str) -> None:
    with pytest.raises(CalendarFileError, match=None) as refused:
        parse_calendar_year(data)
    assert problem in str(refused.value)


def test_every_problem_of_a_file_is_listed() -> None:
    with pytest.raises(CalendarFileError) as refused:
        parse_calendar_year({**GOOD, "source": "", "workdays": {"2026-10-09": "x", "2027-01-02": "y"}})
    assert str(refused.value).count("; ") == 2


def test_a_good_file_reads_as_its_holidays_and_workdays() -> None:
    year = parse_calendar_year(GOOD)
    assert year.holidays == {date(2026, 10, 1): "国庆节", date(2026, 10, 2): "国庆节"}
    assert year.workdays == {date(2026, 10, 10): "国庆节调休"}


# the shipped years

def test_the_shipped_years_are_2025_and_2026_and_2026_matches_chinese_calendar_every_day() -> None:
    shipped = {year.year: year for year in shipped_years()}
    assert sorted(shipped) == [2025, 2026]  # 2027 is not published: not invented
    assert shipped[2026].source == "国务院办公厅关于2026年部分节假日安排的通知"
    assert shipped[2026].holidays[date(2026, 2, 17)] == "春节"
    assert shipped[2026].workdays[date(2026, 2, 14)] == "春节调休"
    calendar = BusinessCalendar.of(shipped.values())
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert calendar.is_business_day(day) is chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_the_package_has_nothing_for_2027() -> None:
    with pytest.raises(CalendarFileError, match="no schedule for 2027"):
        package_year(2027, "?")


def test_deadlines_skip_the_golden_week_on_the_shipped_calendar() -> None:
    calendar = BusinessCalendar.of(shipped_years())
    assigned = datetime(2026, 9, 30, 10, 0, tzinfo=CHINA)  # the holiday runs 1–7 October
    assert calendar.add_business_days(assigned, 1).at == datetime(2026, 10, 8, 10, 0, tzinfo=CHINA)
    assert calendar.add_business_days(assigned, 3).at == datetime(2026, 10, 10, 10, 0, tzinfo=CHINA)  # 调休 Saturday


# storage

async def test_a_year_stored_reads_back_the_same(db: Database) -> None:
    year = CalendarYear(2031, "a test schedule", {date(2031, 1, 1): "元旦"}, {date(2031, 1, 4): "元旦调休"})
    async with db.uow() as uow:
        await store_calendar_year(uow.session, year)
        await uow.commit()
    async with db.uow() as uow:
        stored = {y.year: y for y in await read_calendar_years(uow.session)}
    assert stored[2031] == year
    replaced = CalendarYear(2031, "the notice", {date(2031, 1, 2): "元旦"}, {})
    async with db.uow() as uow:
        await store_calendar_year(uow.session, replaced)
        await uow.commit()
    async with db.uow() as uow:
        assert {y.year: y for y in await read_calendar_years(uow.session)}[2031] == replaced
    await forget_years(db, 2031)


async def test_start_seeds_the_shipped_years_postgres_lacks_and_keeps_an_operators(
        db: Database, settings_env: dict[str, str]) -> None:
    await forget_years(db, 2025, 2026)
    operators = CalendarYear(2026, "operator's own", {date(2026, 3, 2): "公司假日"}, {})
    async with db.uow() as uow:
        await store_calendar_year(uow.session, operators)
        await uow.commit()
    days = BusinessDays(PoolSettings(), db)
    assert await days.seed() == [2025]
    calendar = await days.load()
    assert calendar.years >= {2025, 2026}
    assert not calendar.is_business_day(date(2026, 3, 2))
    assert calendar.is_business_day(date(2026, 10, 1))  # the operator's year stands, holidays and all
    async with db.uow() as uow:  # a second process seeds nothing
        assert await seed_shipped_years(uow.session, shipped_years()) == []
    await forget_years(db, 2026)
    assert await days.seed() == [2026]


# a year missing

def test_a_missing_year_counts_monday_to_friday_and_is_counted_and_warned() -> None:
    days = BusinessDays(PoolSettings(), db=None)  # type: ignore[arg-type]
    days.calendar = BusinessCalendar.of(shipped_years())
    deadline = days.calendar.add_business_days(datetime(2026, 12, 30, 9, 0, tzinfo=CHINA), 5)
    # Thu 31 Dec, then 2027 Monday–Friday: Fri 1 Jan (New Year's Day, unknown here), Mon 4, Tue 5, Wed 6
    assert deadline.at == datetime(2027, 1, 6, 9, 0, tzinfo=CHINA)
    assert deadline.assumed_years == {2027}
    before = assumed(2027)
    days.note_assumed(deadline.assumed_years)
    days.note_assumed(deadline.assumed_years)
    assert assumed(2027) == before + 2
    assert days.missing_years(date(2026, 12, 5)) == [2027]
    assert days.warnings(date(2026, 12, 5)) == [
        "business-day calendar lacks 2027: deadlines there count Monday–Friday; load it with "
        "`leadflow calendar load FILE`"]
    assert days.warnings(date(2025, 6, 1)) == []  # 2025 and 2026 are known
    minutes = BusinessDays(PoolSettings(business_day_minutes=1), db=None)  # type: ignore[arg-type]
    assert minutes.warnings(date(2026, 12, 5)) == []  # a demo's minutes count every day: nothing is assumed


async def test_readiness_warns_of_next_year_missing_and_stays_ok(
        db: Database, settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    next_year = datetime.now(CHINA).year + 1
    monkeypatch.setattr(business_days_module, "shipped_years",
                        lambda: [y for y in shipped_years() if y.year != next_year])
    await forget_years(db, next_year)
    monkeypatch.setenv("LEADFLOW_REACTIVATION_ENABLED", "false")  # no schedule left behind on the shared Temporal
    client: AsyncTestClient[Any]

    async def ready() -> Any:
        answer = await client.get("/health/ready")
        return answer if answer.status_code == 200 else None

    async with AsyncTestClient(app=service.create_app(PoolSettings())) as client:
        answer = await eventually(ready, timeout_s=60)  # Kafka and Temporal connect in the background
    assert answer is not None, "never ready: a warning must not make the service unready"
    body = answer.json()
    assert body["status"] == "ok" and body["checks"]["calendar"] == "ok"
    assert body["warnings"] == [
        f"business-day calendar lacks {next_year}: deadlines there count Monday–Friday; load it with "
        "`leadflow calendar load FILE`"]
    assert REGISTRY.get_sample_value("leadflow_pool_calendar_missing_years") == 1

    async with db.uow() as uow:  # both years loaded: no warnings at all
        for year in (next_year - 1, next_year):
            await store_calendar_year(uow.session, CalendarYear(year, "test", {}, {}))
        await uow.commit()
    async with AsyncTestClient(app=service.create_app(PoolSettings())) as client:
        answer = await eventually(ready, timeout_s=60)
    assert answer is not None and "warnings" not in answer.json()
    assert REGISTRY.get_sample_value("leadflow_pool_calendar_missing_years") == 0
    await forget_years(db, next_year - 1, next_year)
    async with db.uow() as uow:  # the shipped years back, for the tests after this one
        await seed_shipped_years(uow.session, shipped_years())
        await uow.commit()


# the CLI

def test_the_cli_loads_a_year_refuses_a_bad_file_and_shows_the_years(settings_env: dict[str, str],
                                                                      tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "cn-2032.yaml"
    bad.write_text("year: 2032\nsource: ''\nworkdays:\n  2032-03-03: x\n", encoding="utf-8")
    refused = runner.invoke(calendar_cli, ["load", str(bad)])
    assert refused.exit_code == 1, refused.output
    assert "not loaded; nothing was changed" in refused.output
    assert "source: say where the schedule comes from" in refused.output
    assert "workdays.2032-03-03: a make-up working day (调休) falls on a weekend, not a Wednesday" in refused.output
    not_yaml = tmp_path / "broken.yaml"
    not_yaml.write_text("year: [2032\n", encoding="utf-8")
    assert "not YAML" in runner.invoke(calendar_cli, ["load", str(not_yaml)]).output

    good = tmp_path / "cn-2032.yaml"
    good.write_text("year: 2032\nsource: 国务院办公厅关于2032年部分节假日安排的通知\n"
                    "holidays:\n  2032-01-01: 元旦\n  2032-01-02: 元旦\nworkdays:\n  2032-01-04: 元旦调休\n",
                    encoding="utf-8")
    loaded = runner.invoke(calendar_cli, ["load", str(good)])
    assert loaded.exit_code == 0, loaded.output
    assert "2032 loaded" in loaded.output and "2 holidays, 1 make-up working days" in loaded.output

    shown = runner.invoke(calendar_cli, ["show", "2032"])
    assert shown.exit_code == 0, shown.output
    assert "2032" in shown.output.split("years loaded:")[1].splitlines()[0]
    assert "2032-01-04" in shown.output and "元旦调休" in shown.output
    missing = runner.invoke(calendar_cli, ["show", "2099"])
    assert missing.exit_code == 1 and "2099 is not loaded" in missing.output


def test_the_cli_generates_a_year_that_loads_as_shipped(tmp_path: Path) -> None:
    generated = CliRunner().invoke(calendar_cli, ["generate", "2026"])
    assert generated.exit_code == 0, generated.output
    shipped = Path(business_days_module.__file__).parent / "calendars" / "cn-2026.yaml"
    assert generated.output == shipped.read_text(encoding="utf-8")
    assert CliRunner().invoke(calendar_cli, ["generate", "2027"]).exit_code == 1


def test_deadlines_are_counted_on_the_china_date_not_utc() -> None:
    calendar = BusinessCalendar.of(shipped_years())
    # Friday 20 November 2026, 07:00 in Beijing is still Thursday 23:00 UTC: one business day later is Monday
    assert calendar.add_business_days(datetime(2026, 11, 19, 23, 0, tzinfo=UTC), 1).at == datetime(
        2026, 11, 22, 23, 0, tzinfo=UTC)
