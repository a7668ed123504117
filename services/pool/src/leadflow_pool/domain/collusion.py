"""串通 (collusion), read from the ownership history: a rep drops a lead (releases it, or lets it lapse to be
recycled) and a colleague claims it straight away, again and again (`pair`), or a lead goes back and forth
between the same two reps (`ping_pong`). Either keeps a lead out of the pool and restarts its protection.

A *handover* A → B: rep A lost lead L (released or recycled) and rep B ≠ A claimed L next, within
`handover_hours`. An assignment or transfer in between is a manager's doing, not a handover.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import groupby

DROPS = frozenset({"released", "recycled"})
CLAIMED = "claimed"
# The timeline kinds that change who holds a lead: every other one leaves a handover pending.
OWNERSHIP_KINDS = ("released", "recycled", "claimed", "transferred", "transferred_away", "assigned")


class SuspicionKind(StrEnum):
    pair = "pair"  # A keeps dropping what B claims
    ping_pong = "ping_pong"  # a lead went A → B → A (the two reps in alphabetical order)


@dataclass(frozen=True)
class OwnershipEvent:
    """A timeline row: for a drop, `owner_id` is the rep who lost the lead; otherwise the one who got it."""

    lead_id: uuid.UUID
    at: datetime
    kind: str
    owner_id: str | None


@dataclass(frozen=True)
class CollusionRules:
    handover_hours: float = 72
    min_handovers: int = 3
    window_days: int = 30

    @property
    def handover(self) -> timedelta:
        return timedelta(hours=self.handover_hours)

    def window_start(self, now: datetime) -> datetime:
        return now - timedelta(days=self.window_days)

    def history_start(self, now: datetime) -> datetime:
        """How far back the history is read: a drop just before the window may start a handover in it."""
        return self.window_start(now) - self.handover


@dataclass(frozen=True)
class Handover:
    lead_id: uuid.UUID
    released_by: str
    claimed_by: str
    dropped_at: datetime
    claimed_at: datetime


@dataclass(frozen=True)
class Suspicion:
    kind: SuspicionKind
    released_by: str
    claimed_by: str
    handovers: tuple[Handover, ...]  # by claim time

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind.value, self.released_by, self.claimed_by

    @property
    def lead_ids(self) -> tuple[uuid.UUID, ...]:
        return tuple(dict.fromkeys(h.lead_id for h in self.handovers))

    @property
    def occurrences(self) -> int:
        return len(self.handovers)

    @property
    def first_at(self) -> datetime:
        return self.handovers[0].claimed_at

    @property
    def last_at(self) -> datetime:
        return self.handovers[-1].claimed_at


@dataclass(frozen=True)
class Flag:
    """A suspicion as kept (collusion_flags): everything it has counted since it was first raised."""

    kind: str
    released_by: str
    claimed_by: str
    lead_ids: tuple[uuid.UUID, ...]
    occurrences: int
    first_at: datetime
    last_at: datetime


def handovers(events: Iterable[OwnershipEvent], rules: CollusionRules) -> list[Handover]:
    """Every handover in the history, by claim time. Events of one lead at the same instant keep their order."""
    found: list[Handover] = []
    ordered = sorted(events, key=lambda e: (e.lead_id, e.at))
    for _, lead_events in groupby(ordered, key=lambda e: e.lead_id):
        found.extend(_lead_handovers(lead_events, rules.handover))
    return sorted(found, key=lambda h: h.claimed_at)


def _lead_handovers(events: Iterable[OwnershipEvent], within: timedelta) -> Iterable[Handover]:
    dropped: OwnershipEvent | None = None
    for event in events:
        if event.kind in DROPS:
            dropped = event if event.owner_id else None
            continue
        if (event.kind == CLAIMED and dropped is not None and event.owner_id
                and event.owner_id != dropped.owner_id and event.at - dropped.at <= within):
            yield Handover(event.lead_id, str(dropped.owner_id), event.owner_id, dropped.at, event.at)
        if event.kind in OWNERSHIP_KINDS:
            dropped = None  # claimed back, claimed too late, assigned or transferred: that drop is settled


def suspicions(events: Iterable[OwnershipEvent], now: datetime, rules: CollusionRules) -> list[Suspicion]:
    """The pairs with `min_handovers` or more handovers within the window, and the pairs a lead ping-ponged
    between in it; pairs first, each kind by its reps."""
    start = rules.window_start(now)
    recent = [h for h in handovers(events, rules) if start <= h.claimed_at <= now]
    return _pairs(recent, rules.min_handovers) + _ping_pongs(recent)


def _pairs(recent: Sequence[Handover], min_handovers: int) -> list[Suspicion]:
    by_pair: dict[tuple[str, str], list[Handover]] = defaultdict(list)
    for h in recent:
        by_pair[h.released_by, h.claimed_by].append(h)
    return [Suspicion(SuspicionKind.pair, a, b, tuple(hs))
            for (a, b), hs in sorted(by_pair.items()) if len(hs) >= min_handovers]


def _ping_pongs(recent: Sequence[Handover]) -> list[Suspicion]:
    """A lead handed over both ways between the same two reps (A → B, then B → A, or the reverse)."""
    by_lead_and_reps: dict[tuple[uuid.UUID, tuple[str, str]], list[Handover]] = defaultdict(list)
    for h in recent:
        by_lead_and_reps[h.lead_id, _two(h)].append(h)
    by_reps: dict[tuple[str, str], list[Handover]] = defaultdict(list)
    for (_, reps), hs in by_lead_and_reps.items():
        if len({h.released_by for h in hs}) == 2:
            by_reps[reps].extend(hs)
    return [Suspicion(SuspicionKind.ping_pong, a, b, tuple(sorted(hs, key=lambda h: h.claimed_at)))
            for (a, b), hs in sorted(by_reps.items())]


def _two(h: Handover) -> tuple[str, str]:
    a, b = sorted((h.released_by, h.claimed_by))
    return a, b


def updated_flag(stored: Flag | None, suspicion: Suspicion) -> Flag | None:
    """The flag once this suspicion is counted in, or None when it adds nothing (every handover in it was
    counted by an earlier scan: those are the ones up to the flag's `last_at`)."""
    if stored is None:
        return Flag(suspicion.kind.value, suspicion.released_by, suspicion.claimed_by, suspicion.lead_ids,
                    suspicion.occurrences, suspicion.first_at, suspicion.last_at)
    new = [h for h in suspicion.handovers if h.claimed_at > stored.last_at]
    if not new:
        return None
    return Flag(stored.kind, stored.released_by, stored.claimed_by,
                tuple(dict.fromkeys([*stored.lead_ids, *(h.lead_id for h in new)])),
                stored.occurrences + len(new), stored.first_at, new[-1].claimed_at)
