"""When a message may go: outside the person's quiet hours (in their timezone), and after a failed try, once
its backoff has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from leadflow_notify.domain.model import QuietHours


def next_allowed(at: datetime, quiet: QuietHours | None, timezone: str) -> datetime:
    """`at` itself, unless it falls in the quiet window: then the window's end (the same local day, or the next
    one for a window crossing midnight that `at` is in before midnight). Aware datetimes in, UTC out."""
    if quiet is None:
        return at.astimezone(UTC)
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    if not quiet.covers(local.time()):
        return at.astimezone(UTC)
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += timedelta(days=1)  # before midnight in a window that ends tomorrow morning
    # Through UTC and back: an end that a daylight-saving jump skips lands just after the jump.
    end = datetime.combine(day, quiet.end, tzinfo=zone)
    return end.astimezone(UTC)


def backoff_s(failed_attempts: int, first_s: float, max_s: float) -> float:
    """The wait after the n-th failed try: first_s, doubled each try, at most max_s."""
    return min(max_s, first_s * 2 ** max(0, failed_attempts - 1))


def after_failure(now: datetime, attempts: int, max_attempts: int, first_s: float, max_s: float,
                  quiet: QuietHours | None, timezone: str) -> datetime | None:
    """When to try again after `attempts` tries failed (outside the quiet hours); None: give up."""
    if attempts >= max_attempts:
        return None
    return next_allowed(now + timedelta(seconds=backoff_s(attempts, first_s, max_s)), quiet, timezone)
