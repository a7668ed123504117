"""Channel partners' API keys (stored hashed, shown once) and their request rates."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from leadflow_shared.auth import KeyCache, hash_key

__all__ = ["KeyCache", "Partner", "PartnerRateLimiter", "hash_key", "new_key", "new_partner_id"]

KEY_PREFIX = "lf_"


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    rate_per_s: float


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_partner_id() -> str:
    return "p_" + secrets.token_hex(6)


class PartnerRateLimiter:
    """Requests per second per partner, in this process (each replica enforces its share).

    GCRA, the token bucket kept as one time per partner: a partner may send a second's worth of requests at
    once, then one every 1/rate s. (The `limits` package's asyncio memory storage hopped to a thread on every
    hit to expire old entries: 7% of intake's CPU per single POST.)
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._allowed_at: dict[str, float] = {}  # the partner's "theoretical arrival time" of its next request

    def retry_after(self, partner: Partner) -> int | None:
        """None when the request may go ahead (and counts); else whole seconds to wait (for Retry-After)."""
        interval = 1.0 / partner.rate_per_s
        burst = max(1.0, partner.rate_per_s) * interval  # a second's worth, at least one request
        now = self._clock()
        allowed_at = max(self._allowed_at.get(partner.id, now), now)
        wait = allowed_at + interval - burst - now
        if wait > 0:
            return max(1, math.ceil(wait))
        self._allowed_at[partner.id] = allowed_at + interval
        return None
