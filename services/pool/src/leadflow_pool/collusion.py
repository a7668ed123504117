"""串通 (collusion) watch: scans the window's ownership history (domain/collusion.py), keeps what it finds in
collusion_flags and publishes leads.collusion_suspected.v1 for a new flag or one that grew; and the claim-time
question whether a claimer is flagged with the lead's last owner."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_pool.domain.collusion import (
    OWNERSHIP_KINDS,
    CollusionRules,
    Flag,
    OwnershipEvent,
    Suspicion,
    SuspicionKind,
    suspicions,
    updated_flag,
)
from leadflow_pool.settings import PoolSettings
from leadflow_pool.tables import collusion_flags, timeline
from leadflow_shared.contracts import LEADS_COLLUSION_SUSPECTED, CollusionSuspected
from leadflow_shared.db import Database, UnitOfWork
from leadflow_shared.logging import get_logger
from leadflow_shared.service import BackgroundComponent

log = get_logger(__name__)

# The advisory lock of a scan: one replica scans at a time (the others skip their turn).
SCAN_LOCK = int.from_bytes(hashlib.blake2b(b"pool:collusion-scan", digest_size=8).digest(), "big", signed=True)


def rules_of(settings: PoolSettings) -> CollusionRules:
    return CollusionRules(handover_hours=settings.collusion_handover_hours,
                          min_handovers=settings.collusion_min_handovers,
                          window_days=settings.collusion_window_days)


async def ownership_history(session: AsyncSession, since: datetime, until: datetime) -> list[OwnershipEvent]:
    """The ownership changes between two instants, read by the (kind, at) index."""
    rows = await session.execute(
        select(timeline.c.lead_id, timeline.c.at, timeline.c.kind, timeline.c.owner_id)
        .where(timeline.c.kind.in_(OWNERSHIP_KINDS), timeline.c.at >= since, timeline.c.at <= until)
        .order_by(timeline.c.lead_id, timeline.c.at, timeline.c.id))
    return [OwnershipEvent(*row) for row in rows]


async def detect(uow: UnitOfWork, now: datetime, settings: PoolSettings) -> list[Suspicion]:
    """Scan the window ending `now`: every suspicion found in it is returned; the flags it raises or makes grow
    are stored and published (a scan that finds nothing new publishes nothing)."""
    rules = rules_of(settings)
    found = suspicions(await ownership_history(uow.session, rules.history_start(now), now), now, rules)
    stored = await _stored_flags(uow.session, [s.key for s in found])
    for suspicion in found:
        flag = updated_flag(stored.get(suspicion.key), suspicion)
        if flag is not None:
            await _store(uow.session, flag, now)
            await uow.publish(LEADS_COLLUSION_SUSPECTED, flag.lead_ids[0], CollusionSuspected(
                kind=flag.kind, released_by=flag.released_by, claimed_by=flag.claimed_by,
                lead_ids=list(flag.lead_ids), occurrences=flag.occurrences, window_days=rules.window_days,
                detected_at=now))
            log.info("collusion suspected", kind=flag.kind, released_by=flag.released_by,
                     claimed_by=flag.claimed_by, occurrences=flag.occurrences)
    return found


async def _stored_flags(session: AsyncSession, keys: Sequence[tuple[str, str, str]]
                        ) -> dict[tuple[str, str, str], Flag]:
    if not keys:
        return {}
    c = collusion_flags.c
    rows = await session.execute(
        select(c.kind, c.released_by, c.claimed_by, c.lead_ids, c.occurrences, c.first_at, c.last_at)
        .where(tuple_(c.kind, c.released_by, c.claimed_by).in_(keys)))
    return {(r.kind, r.released_by, r.claimed_by): Flag(r.kind, r.released_by, r.claimed_by, tuple(r.lead_ids),
                                                        r.occurrences, r.first_at, r.last_at) for r in rows}


async def _store(session: AsyncSession, flag: Flag, now: datetime) -> None:
    values = dict(lead_ids=list(flag.lead_ids), occurrences=flag.occurrences, last_at=flag.last_at, detected_at=now)
    await session.execute(
        insert(collusion_flags)
        .values(kind=flag.kind, released_by=flag.released_by, claimed_by=flag.claimed_by, first_at=flag.first_at,
                **values)
        .on_conflict_do_update(index_elements=["kind", "released_by", "claimed_by"], set_=values))


async def collusion_blocks(session: AsyncSession, claimer: str, last_owner: str | None) -> bool:
    """Is `claimer` flagged for taking what `last_owner` drops (a pair flag last_owner → claimer), or for
    ping-ponging leads with him? For pools whose rules block such claims."""
    if not last_owner or last_owner == claimer:
        return False
    c = collusion_flags.c
    flagged = await session.scalar(select(c.id).where(or_(
        and_(c.kind == SuspicionKind.pair.value, c.released_by == last_owner, c.claimed_by == claimer),
        and_(c.kind == SuspicionKind.ping_pong.value,
             tuple_(c.released_by, c.claimed_by).in_([(last_owner, claimer), (claimer, last_owner)])),
    )).limit(1))
    return flagged is not None


async def flags(session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None,
                rep: str | None = None) -> list[dict[str, Any]]:
    """The flags active in [since, until] (their first and last handovers around it), a rep's on either side
    when named; latest first."""
    c = collusion_flags.c
    query = select(c.kind, c.released_by, c.claimed_by, c.occurrences, c.lead_ids, c.first_at, c.last_at,
                   c.detected_at).order_by(c.last_at.desc(), c.id)
    if since is not None:
        query = query.where(c.last_at >= since)
    if until is not None:
        query = query.where(c.first_at <= until)
    if rep is not None:
        query = query.where(or_(c.released_by == rep, c.claimed_by == rep))
    return [dict(row) for row in (await session.execute(query)).mappings()]


class CollusionWatch(BackgroundComponent):
    """Component: scans for collusion every `collusion_scan_s`, in one replica at a time."""

    name = "collusion-watch"

    def __init__(self, settings: PoolSettings, db: Database) -> None:
        self.settings = settings
        self.db = db

    async def scan(self, now: datetime | None = None) -> list[Suspicion] | None:
        """One scan, committed; None when another replica is scanning."""
        async with self.db.uow() as uow:
            if not await uow.session.scalar(select(func.pg_try_advisory_xact_lock(SCAN_LOCK))):
                return None
            found = await detect(uow, now or datetime.now(UTC), self.settings)
            await uow.commit()
        return found

    async def run(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception as exc:  # Postgres away: the next turn tries again
                log.warning("collusion scan failed", error=repr(exc))
            await asyncio.sleep(self.settings.collusion_scan_s)
