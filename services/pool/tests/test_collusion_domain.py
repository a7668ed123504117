"""串通 read from scripted ownership histories: who hands leads to whom, when that is a pattern, when a lead
ping-pongs, and the histories that are innocent (other reps, claims too slow, a manager in between)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from leadflow_pool.domain.collusion import (
    CollusionRules,
    Flag,
    OwnershipEvent,
    SuspicionKind,
    handovers,
    suspicions,
    updated_flag,
)

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
RULES = CollusionRules(handover_hours=72, min_handovers=3, window_days=30)


def at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


def swap(lead: uuid.UUID, dropper: str, claimer: str, days_ago: float, *, hours: float = 2,
         drop: str = "released") -> list[OwnershipEvent]:
    """`dropper` lets `lead` go; `claimer` claims it `hours` later."""
    return [OwnershipEvent(lead, at(days_ago), drop, dropper),
            OwnershipEvent(lead, at(days_ago) + timedelta(hours=hours), "claimed", claimer)]


def test_three_quick_claims_of_what_one_rep_dropped_flag_the_pair() -> None:
    leads = [uuid.uuid4() for _ in range(3)]
    history = (swap(leads[0], "wang", "zhou", 20) + swap(leads[1], "wang", "zhou", 10, drop="recycled")
               + swap(leads[2], "wang", "zhou", 4, hours=71))
    [found] = suspicions(history, NOW, RULES)
    assert (found.kind, found.released_by, found.claimed_by) == (SuspicionKind.pair, "wang", "zhou")
    assert found.lead_ids == tuple(leads) and found.occurrences == 3
    assert (found.first_at, found.last_at) == (at(20) + timedelta(hours=2), at(4) + timedelta(hours=71))


def test_two_handovers_are_not_yet_a_pattern() -> None:
    history = swap(uuid.uuid4(), "wang", "zhou", 20) + swap(uuid.uuid4(), "wang", "zhou", 10)
    assert len(handovers(history, RULES)) == 2
    assert suspicions(history, NOW, RULES) == []


def test_innocent_histories_flag_nobody() -> None:
    slow = [swap(uuid.uuid4(), "wang", "zhou", d, hours=73) for d in (20, 10, 5)]  # past the handover window
    spread = [swap(uuid.uuid4(), "wang", claimer, d) for d, claimer in ((20, "zhou"), (10, "li"), (5, "zhao"))]
    droppers = [swap(uuid.uuid4(), dropper, "zhou", d) for d, dropper in ((20, "wang"), (10, "li"), (5, "zhao"))]
    old = [swap(uuid.uuid4(), "wang", "zhou", d) for d in (45, 40, 35)]  # before the 30 days
    taken_back = [swap(uuid.uuid4(), "wang", "wang", d) for d in (20, 10, 5)]  # his own lead again
    for history in (slow, spread, droppers, old, taken_back):
        events = [e for pair in history for e in pair]
        assert suspicions(events, NOW, RULES) == [], history


def test_a_manager_between_the_drop_and_the_claim_settles_the_drop() -> None:
    lead = uuid.uuid4()
    history = [OwnershipEvent(lead, at(3), "released", "wang"),
               OwnershipEvent(lead, at(3) + timedelta(hours=1), "assigned", "li"),
               OwnershipEvent(lead, at(3) + timedelta(hours=2), "released", "li"),
               OwnershipEvent(lead, at(3) + timedelta(hours=2), "transferred", None),  # to another pool
               OwnershipEvent(lead, at(3) + timedelta(hours=3), "claimed", "zhou"),
               OwnershipEvent(lead, at(2), "follow_up", "zhou")]
    assert handovers(history, RULES) == []


def test_a_drop_just_before_the_window_counts_when_its_claim_is_in_it() -> None:
    leads = [uuid.uuid4() for _ in range(3)]
    history = (swap(leads[0], "wang", "zhou", 30.05, hours=48) + swap(leads[1], "wang", "zhou", 10)
               + swap(leads[2], "wang", "zhou", 5))
    assert RULES.history_start(NOW) < at(30.05) < RULES.window_start(NOW)
    [found] = suspicions(history, NOW, RULES)
    assert found.occurrences == 3


def test_a_lead_handed_back_and_forth_ping_pongs() -> None:
    lead, other = uuid.uuid4(), uuid.uuid4()
    history = (swap(lead, "zhou", "wang", 9) + swap(lead, "wang", "zhou", 6) + swap(lead, "zhou", "wang", 3)
               + swap(other, "wang", "li", 2) + swap(other, "li", "zhou", 1))  # down a line: no ping-pong
    [found] = suspicions(history, NOW, RULES)
    assert (found.kind, found.released_by, found.claimed_by) == (SuspicionKind.ping_pong, "wang", "zhou")
    assert found.lead_ids == (lead,) and found.occurrences == 3
    # a third zhou → wang (on another lead): a pair as well
    assert [s.kind for s in suspicions(history + swap(uuid.uuid4(), "zhou", "wang", 1), NOW, RULES)] == [
        SuspicionKind.pair, SuspicionKind.ping_pong]


def test_handing_one_lead_on_down_a_line_of_reps_is_no_ping_pong() -> None:
    lead = uuid.uuid4()
    history = swap(lead, "wang", "zhou", 9) + swap(lead, "zhou", "li", 6) + swap(lead, "li", "wang", 3)
    assert len(handovers(history, RULES)) == 3
    assert suspicions(history, NOW, RULES) == []


def test_a_flag_counts_each_handover_once_across_scans() -> None:
    leads = [uuid.uuid4() for _ in range(4)]
    history = [e for i, d in enumerate((20, 10, 5)) for e in swap(leads[i], "wang", "zhou", d)]
    [first] = suspicions(history, NOW, RULES)
    flag = updated_flag(None, first)
    assert flag == Flag("pair", "wang", "zhou", tuple(leads[:3]), 3, first.first_at, first.last_at)
    assert updated_flag(flag, first) is None  # the same scan again adds nothing

    later = NOW + timedelta(days=15)  # the first handover has left the window; a new one came
    [second] = suspicions(history + swap(leads[0], "wang", "zhou", -12) + swap(leads[3], "wang", "zhou", -14),
                          later, RULES)
    grown = updated_flag(flag, second)
    assert grown is not None and grown.occurrences == 5
    assert grown.lead_ids == (*leads[:3], leads[3]) and grown.first_at == flag.first_at
    assert grown.last_at == second.last_at == at(-14) + timedelta(hours=2)
