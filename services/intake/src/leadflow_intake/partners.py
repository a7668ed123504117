"""Channel partners' API keys (stored hashed, shown once) and their request rates."""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

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
