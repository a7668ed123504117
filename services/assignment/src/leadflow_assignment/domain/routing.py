"""Routing a lead: ordered rules, the first that decides wins; the pool takes the rest."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """Where a lead goes: to a rep (owner), or into a pool, and which rule said so."""

    rule: str
    owner_id: str | None = None
    pool_id: str | None = None
    reason: str | None = None


def route(referrer: str | None, *, default_pool: str) -> Route:
    """A referred lead goes back to the rep who referred it; anything else waits in the pool."""
    if referrer:
        return Route(rule="referral", owner_id=referrer, reason=f"referred by {referrer}")
    return Route(rule="default_pool", pool_id=default_pool, reason="no rule routed it")
