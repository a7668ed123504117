"""Visits (上门拜访) and the check-in a rep makes with his phone's position: two signs of a mock location
(模拟定位) a manager should look at.

* `repeated_position`: the same position, to the metre, as an earlier check-in of his at another time or on
  another lead. A real GPS fix never repeats to the metre twice; a mock-location app replays one.
* `impossible_travel`: from his previous check-in he would have had to travel faster than `max_travel_kmh`
  (the fixes' accuracy radii are granted to him first, so a poor fix does not convict him).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
SAME_POSITION_M = 1.0


class VisitFlag(StrEnum):
    repeated_position = "repeated_position"
    impossible_travel = "impossible_travel"


@dataclass(frozen=True)
class CheckIn:
    """Where a rep said he was, when, and for which lead."""

    lead_id: str
    latitude: float
    longitude: float
    at: datetime
    accuracy_m: float | None = None


@dataclass(frozen=True)
class VisitCheck:
    flags: tuple[VisitFlag, ...]
    previous: CheckIn | None  # his check-in just before this one
    speed_kmh: float | None  # from `previous`, after granting both fixes' accuracy
    repeats: CheckIn | None  # the earlier check-in at the same position


def distance_m(a: CheckIn, b: CheckIn) -> float:
    """Great-circle (haversine) distance in metres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat, dlon = lat2 - lat1, math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def travel_speed_kmh(previous: CheckIn, new: CheckIn) -> float:
    """The speed needed between two check-ins, granting the accuracy of both fixes; infinite when he would
    have had to be in two places at once."""
    slack = (previous.accuracy_m or 0.0) + (new.accuracy_m or 0.0)
    metres = max(distance_m(previous, new) - slack, 0.0)
    seconds = abs((new.at - previous.at).total_seconds())
    if metres == 0.0:
        return 0.0
    return math.inf if seconds == 0 else metres / 1000 / (seconds / 3600)


def check_visit(new: CheckIn, earlier: Iterable[CheckIn], max_travel_kmh: float) -> VisitCheck:
    """The flags of a new check-in, given the rep's earlier ones (any order; those after it are ignored)."""
    before = [c for c in earlier if c.at <= new.at and c != new]
    repeats = next((c for c in sorted(before, key=lambda c: c.at, reverse=True)
                    if distance_m(c, new) < SAME_POSITION_M and (c.at != new.at or c.lead_id != new.lead_id)), None)
    previous = max(before, key=lambda c: c.at, default=None)
    speed = travel_speed_kmh(previous, new) if previous else None
    flags = []
    if repeats is not None:
        flags.append(VisitFlag.repeated_position)
    if speed is not None and speed > max_travel_kmh:
        flags.append(VisitFlag.impossible_travel)
    return VisitCheck(tuple(flags), previous, speed, repeats)


def near_box(latitude: float, longitude: float, metres: float = SAME_POSITION_M) -> tuple[float, float, float, float]:
    """A latitude/longitude box around a point, a little larger than `metres` each way: the rows a query
    must read to find the positions within `metres` (haversine decides among them)."""
    dlat = math.degrees(2 * metres / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(latitude)), 1e-6)
    return latitude - dlat, latitude + dlat, longitude - dlon, longitude + dlon
