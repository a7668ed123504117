"""Visit check-ins (模拟定位): a position repeated to the metre, travel faster than the limit; and the rules a
follow-up or an SDR's verdict must pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadflow_pool.domain.follow_ups import Author, Disposition, FollowUpSituation, follow_up_refusal
from leadflow_pool.domain.tasks import overdue
from leadflow_pool.domain.visits import CheckIn, VisitFlag, check_visit, distance_m, near_box, travel_speed_kmh

T0 = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)
HANGZHOU = (30.27415, 120.15515)
SHANGHAI = (31.23042, 121.47370)  # about 165 km from Hangzhou


def at(place: tuple[float, float], minutes: float, lead: str = "lead-1", accuracy: float | None = 10.0) -> CheckIn:
    return CheckIn(lead, place[0], place[1], T0 + timedelta(minutes=minutes), accuracy)


def test_distance_is_the_great_circle() -> None:
    assert distance_m(at(HANGZHOU, 0), at(SHANGHAI, 0)) == pytest.approx(165_000, rel=0.02)
    # 0.00001° of latitude is about 1.1 m
    assert distance_m(at((30.0, 120.0), 0), at((30.00001, 120.0), 0)) == pytest.approx(1.11, abs=0.01)


def test_the_same_position_to_the_metre_at_another_time_is_flagged() -> None:
    earlier = at(HANGZHOU, 0, lead="lead-1")
    again = at(HANGZHOU, 24 * 60, lead="lead-2")
    check = check_visit(again, [earlier], max_travel_kmh=300)
    assert check.flags == (VisitFlag.repeated_position,) and check.repeats == earlier
    moved = at((HANGZHOU[0] + 0.00002, HANGZHOU[1]), 24 * 60, lead="lead-2")  # 2.2 m away: a real fix
    assert check_visit(moved, [earlier], max_travel_kmh=300).flags == ()


def test_a_check_in_is_not_compared_with_itself() -> None:
    new = at(HANGZHOU, 0)
    assert check_visit(new, [new], max_travel_kmh=300).flags == ()


def test_travel_faster_than_the_limit_is_flagged() -> None:
    hangzhou = at(HANGZHOU, 0)
    by_train = at(SHANGHAI, 60)  # 165 km in an hour: a fast train, allowed
    by_teleport = at(SHANGHAI, 20)  # 165 km in 20 minutes: 495 km/h
    assert check_visit(by_train, [hangzhou], 300).flags == ()
    check = check_visit(by_teleport, [hangzhou], 300)
    assert check.flags == (VisitFlag.impossible_travel,) and check.speed_kmh == pytest.approx(495, rel=0.03)
    assert check.previous == hangzhou
    assert check_visit(by_teleport, [hangzhou], 600).flags == ()  # the limit is a setting


def test_only_the_previous_check_in_counts_for_speed_and_later_ones_are_ignored() -> None:
    old_shanghai, hangzhou, later = at(SHANGHAI, -600), at(HANGZHOU, -5), at(SHANGHAI, 30)
    new = at((HANGZHOU[0] + 0.01, HANGZHOU[1]), 0)  # 1.1 km from his last check-in, 5 minutes on
    check = check_visit(new, [old_shanghai, later, hangzhou], 300)
    assert check.previous == hangzhou and check.flags == ()


def test_accuracy_is_granted_before_speed_is_judged() -> None:
    a = at(HANGZHOU, 0, accuracy=500)
    b = at((HANGZHOU[0] + 0.008, HANGZHOU[1]), 0.1, accuracy=500)  # 890 m in 6 s, within both radii
    assert travel_speed_kmh(a, b) == 0.0
    assert check_visit(b, [a], 300).flags == ()
    precise = at((HANGZHOU[0] + 0.008, HANGZHOU[1]), 0.1, accuracy=5)
    assert check_visit(precise, [at(HANGZHOU, 0, accuracy=5)], 300).flags == (VisitFlag.impossible_travel,)


def test_both_flags_at_once() -> None:
    shanghai, hangzhou = at(SHANGHAI, 0), at(HANGZHOU, 60 * 24)
    replayed = at(SHANGHAI, 60 * 24 + 10, lead="lead-9")  # Shanghai's fix again, ten minutes after Hangzhou
    check = check_visit(replayed, [shanghai, hangzhou], 300)
    assert set(check.flags) == {VisitFlag.repeated_position, VisitFlag.impossible_travel}


def test_the_search_box_holds_every_point_within_a_metre() -> None:
    lat_lo, lat_hi, lon_lo, lon_hi = near_box(*HANGZHOU)
    assert distance_m(at((lat_lo, HANGZHOU[1]), 0), at(HANGZHOU, 0)) > 1.0
    assert distance_m(at((HANGZHOU[0], lon_hi), 0), at(HANGZHOU, 0)) > 1.0
    assert lat_lo < HANGZHOU[0] < lat_hi and lon_lo < HANGZHOU[1] < lon_hi


REASONS = {Disposition.nurture: ["not_now"], Disposition.invalid: ["wrong_number", "no_need"]}
REP = Author("rep-wang", frozenset({"rep"}), frozenset({"east"}))
SDR = Author("sdr-li", frozenset({"sdr"}), frozenset())
BOSS = Author("boss", frozenset({"manager"}), frozenset({"east"}))


def owned(owner: str, team: str | None = "east", status: str | None = "owned") -> FollowUpSituation:
    return FollowUpSituation("L1", status, owner if status == "owned" else None, team)


def refusal(author: Author, s: FollowUpSituation, **kw: object) -> str | None:
    args = {"has_location": False, "visit": False, "disposition": None, "reason": None, "reasons": REASONS, **kw}
    r = follow_up_refusal(author, s, **args)  # type: ignore[arg-type]
    return r.code if r else None


def test_who_may_record_a_follow_up() -> None:
    assert refusal(REP, owned("rep-wang")) is None
    assert refusal(REP, owned("rep-zhou")) == "not_yours"
    assert refusal(BOSS, owned("rep-zhou")) is None
    assert refusal(BOSS, owned("rep-zhou", team="north")) == "not_yours"  # not his team
    assert refusal(BOSS, owned("x", status="in_pool")) == "not_owned"
    assert refusal(REP, owned("x", status=None)) == "unknown_lead"


def test_a_visit_needs_its_check_in() -> None:
    assert refusal(REP, owned("rep-wang"), visit=True) == "location_required"
    assert refusal(REP, owned("rep-wang"), visit=True, has_location=True) is None


def test_a_verdict_is_an_sdrs_with_a_reason_of_the_list() -> None:
    assert refusal(REP, owned("rep-wang"), disposition=Disposition.qualified) == "not_an_sdr"
    assert refusal(SDR, owned("sdr-li"), disposition=Disposition.qualified) is None
    assert refusal(SDR, owned("sdr-li"), disposition=Disposition.invalid, reason="not_now") == "unknown_reason"
    assert refusal(SDR, owned("sdr-li"), disposition=Disposition.invalid, reason="no_need") is None
    assert refusal(SDR, owned("sdr-li"), disposition=Disposition.nurture) == "unknown_reason"
    r = follow_up_refusal(SDR, owned("sdr-li"), has_location=False, visit=False, disposition=Disposition.invalid,
                          reason="x", reasons=REASONS)
    assert r is not None and r.status == 422 and "wrong_number, no_need" in r.en and "无效" in r.zh


def test_a_task_is_overdue_while_open_past_its_due_time() -> None:
    assert overdue("open", T0, T0 + timedelta(seconds=1))
    assert not overdue("open", T0, T0) and not overdue("done", T0, T0 + timedelta(days=1))
