"""pool's pure rules: the pools document, claims, releases and transfers, deadlines by grade, masks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from leadflow_pool.domain.calendar import BusinessCalendar, CalendarYear
from leadflow_pool.domain.claims import Claimant, ClaimSituation, TransferTarget, claim_refusal, release_refusal, transfer_refusal
from leadflow_pool.domain.model import mask_email, mask_mobile, ownership_deadlines, recycle_destination
from leadflow_pool.domain.pools import PoolRules, load_pools_yaml, parse_pools
from leadflow_shared.documents import DocumentError

DOCUMENT = """
default_pool: public
pools:
  - id: east
    filter: {teams: [east]}
    claimers: {teams: [east]}
    managers: {staff: [boss]}
    rules:
      first_follow_up_days: 2
      conversion_days: 30
      protection_days: 1
      recycle:
        - {grades: [A], no_follow_up_days: 1, not_converted_days: 20, no_opportunity_days: 10}
        - {customer_levels: [VIP], to_pool: vip}
  - id: vip
    filter: {grades: [A], provinces: [上海]}
  - id: public
"""
# 2026 National Day: 10-01..10-07 off, Saturday 10-10 a make-up working day (调休)
CALENDAR = BusinessCalendar.of([CalendarYear(2026, "test", {date(2026, 10, d): "国庆节" for d in range(1, 8)},
                                             {date(2026, 10, 10): "国庆节调休"})])
WANG = Claimant("rep-wang", ("east",), ("rep",))


def situation(**changes: object) -> ClaimSituation:
    document = load_pools_yaml(DOCUMENT)
    base = dict(lead_id="L1", status="in_pool", owner_id=None, pool_id="east", pool=document.pool("east"),
                rules=PoolRules(max_held=2, claims_per_day=3, cooldown_days=7), held_from_pool=0, claimed_today=0,
                lost_at=None, collusion_with_last_owner=False, now=datetime(2026, 12, 1, tzinfo=UTC))
    return ClaimSituation(**{**base, **changes})  # type: ignore[arg-type]


def test_a_document_is_refused_with_every_problem() -> None:
    with pytest.raises(DocumentError) as refused:
        parse_pools({"default_pool": "x", "pools": [{"id": "a"}, {"id": "a", "rules": {"recycle_to": "y"}}]})
    assert {p.path for p in refused.value.problems} == {"pools[1].id", "default_pool", "pools[1].rules.recycle_to"}
    with pytest.raises(DocumentError):
        parse_pools(["not", "a", "mapping"])


def test_a_lead_belongs_to_the_first_pool_whose_filter_takes_it() -> None:
    document = load_pools_yaml(DOCUMENT)
    assert document.home_pool({"team_id": "east", "grade": "A", "province": "上海"}) == "east"
    assert document.home_pool({"team_id": "west", "grade": "A", "province": "上海"}) == "vip"
    assert document.home_pool({"team_id": "west", "grade": "B"}) == "public"


def test_deadlines_follow_the_grade_rule_and_skip_the_holiday() -> None:
    document = load_pools_yaml(DOCUMENT)
    east = document.pool("east")
    start = datetime(2026, 9, 30, 10, 0, tzinfo=UTC)  # Wednesday, 18:00 in Beijing, the eve of National Day
    b = ownership_deadlines(east, east.rules, "B", None, start, CALENDAR, claimed=True)  # type: ignore[union-attr]
    # business days after 09-30: 10-08 (Thu), 10-09 (Fri): two days → 10-09 18:00 Beijing
    assert b.first_follow_up == datetime(2026, 10, 9, 10, 0, tzinfo=UTC)
    assert b.protected_until == datetime(2026, 10, 8, 10, 0, tzinfo=UTC)
    a = ownership_deadlines(east, east.rules, "A", None, start, CALENDAR, claimed=False)  # type: ignore[union-attr]
    assert a.first_follow_up == datetime(2026, 10, 8, 10, 0, tzinfo=UTC) and a.protected_until is None
    # 10 business days for an opportunity (sooner than 20 to convert): 10-08, 09, 10 (调休), 12..16, 19, 20
    assert a.conversion == datetime(2026, 10, 20, 10, 0, tzinfo=UTC)
    assert not a.assumed_years
    assert recycle_destination(east, east.rules, "B", "VIP", "east") == "vip"  # type: ignore[union-attr]
    assert recycle_destination(east, east.rules, "B", None, "east") == "east"  # type: ignore[union-attr]


def test_a_year_the_calendar_lacks_counts_monday_to_friday_and_says_so() -> None:
    deadline = CALENDAR.add_business_days(datetime(2027, 1, 1, 2, 0, tzinfo=UTC), 1)  # a Friday
    assert deadline.at == datetime(2027, 1, 4, 2, 0, tzinfo=UTC) and deadline.assumed_years == {2027}
    minutes = BusinessCalendar(day_length=timedelta(minutes=2))
    assert minutes.add_business_days(datetime(2026, 10, 1, tzinfo=UTC), 3).at == datetime(2026, 10, 1, 0, 6, tzinfo=UTC)


def test_a_claim_passes_membership_limits_cooldown_and_collusion_in_turn() -> None:
    assert claim_refusal(WANG, situation()) is None
    assert claim_refusal(WANG, situation(status="owned")).code == "already_owned"  # type: ignore[union-attr]
    stranger = Claimant("rep-x", ("west",), ("rep",))
    assert claim_refusal(stranger, situation()).status == 403  # type: ignore[union-attr]
    assert claim_refusal(WANG, situation(held_from_pool=2)).code == "holding_limit"  # type: ignore[union-attr]
    assert claim_refusal(WANG, situation(claimed_today=3)).code == "daily_limit"  # type: ignore[union-attr]
    recent = situation(lost_at=datetime(2026, 11, 28, tzinfo=UTC))
    refusal = claim_refusal(WANG, recent)
    assert refusal and refusal.code == "cooldown" and "7 天内不能领取" in refusal.zh
    assert claim_refusal(WANG, situation(lost_at=datetime(2026, 11, 20, tzinfo=UTC))) is None
    assert claim_refusal(WANG, situation(collusion_with_last_owner=True)).code == "collusion"  # type: ignore[union-attr]


def test_release_and_transfer_permissions() -> None:
    codes = ["no_answer"]
    assert release_refusal(WANG, "owned", "rep-wang", "no_answer", codes) is None
    assert release_refusal(WANG, "owned", "rep-li", "no_answer", codes).status == 403  # type: ignore[union-attr]
    assert release_refusal(WANG, "owned", "rep-wang", "x", codes).status == 422  # type: ignore[union-attr]
    assert release_refusal(WANG, "in_pool", None, "no_answer", codes).status == 409  # type: ignore[union-attr]
    document = load_pools_yaml(DOCUMENT)
    east, public = document.pool("east"), document.pool("public")
    boss = Claimant("boss", (), ("manager",))
    assert transfer_refusal(boss, east, "owned", TransferTarget("rep-li", None, None)) is None
    assert transfer_refusal(WANG, east, "owned", TransferTarget("rep-li", None, None)).status == 403  # type: ignore[union-attr]
    # the public pool's claimers are any rep: wang is a member of both
    assert transfer_refusal(WANG, east, "in_pool", TransferTarget(None, public, "public")) is None
    assert transfer_refusal(boss, east, "owned", TransferTarget("x", public, "public")).status == 422  # type: ignore[union-attr]


def test_contacts_are_masked_until_claimed() -> None:
    assert mask_mobile("+8613812345678") == "138****5678"
    assert mask_email("li.lei@example.cn") == "l***@example.cn"
    assert mask_mobile(None) is None
