"""Channel partners' API keys (stored hashed, shown once) and their request rates."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

KEY_PREFIX = "lf_"


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    rate_per_s: float


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """Keys are random and long, so a plain SHA-256 is the right store (no password stretching)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_partner_id() -> str:
    return "p_" + secrets.token_hex(6)


class PartnerRateLimiter:
    """Requests per second per partner, in this process (each replica enforces its share)."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @staticmethod
    def _item(rate_per_s: float) -> RateLimitItem:
        if rate_per_s >= 1:
            return RateLimitItemPerSecond(int(rate_per_s))
        return RateLimitItemPerMinute(max(1, int(rate_per_s * 60)))

    async def retry_after(self, partner: Partner) -> int | None:
        """None when the request may go ahead; else seconds to wait (for Retry-After)."""
        item = self._item(partner.rate_per_s)
        if await self._limiter.hit(item, partner.id):
            return None
        stats = await self._limiter.get_window_stats(item, partner.id)
        return max(1, math.ceil(stats.reset_time - time.time()))


class KeyCache:
    """API keys checked in the last `ttl_s` seconds, so a busy partner costs no database round trip per
    request. The price: a revoked key keeps working for up to `ttl_s` (0 turns the cache off)."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, Partner | None]] = {}

    def get(self, key_hash: str) -> tuple[bool, Partner | None]:
        """(known, partner): known is False when the database must be asked."""
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] <= self._clock():
            return False, None
        return True, entry[1]

    def put(self, key_hash: str, partner: Partner | None) -> None:
        if self._ttl_s <= 0:
            return
        if len(self._entries) > 10_000:  # unknown keys must not grow it without bound
            self._entries.clear()
        self._entries[key_hash] = (self._clock() + self._ttl_s, partner)
