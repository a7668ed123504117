"""API keys: stored as SHA-256 (they are random and long: no stretching needed), checked through a
short-lived cache so that a busy client costs no database round trip per request."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyCache(Generic[T]):
    """API keys checked in the last `ttl_s` seconds, so a busy client costs no database round trip per
    request. The price: a revoked key keeps working for up to `ttl_s` (0 turns the cache off)."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, T | None]] = {}

    def get(self, key_hash: str) -> tuple[bool, T | None]:
        """(known, holder): known is False when the database must be asked."""
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] <= self._clock():
            return False, None
        return True, entry[1]

    def put(self, key_hash: str, holder: T | None) -> None:
        if self._ttl_s <= 0:
            return
        if len(self._entries) > 10_000:  # unknown keys must not grow it without bound
            self._entries.clear()
        self._entries[key_hash] = (self._clock() + self._ttl_s, holder)
