"""pool's container: what its handlers need, built once per process by `bootstrap`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_pool.business_days import BusinessDays
from leadflow_pool.collusion import CollusionWatch
from leadflow_pool.db import current_pools
from leadflow_pool.tables import pool_documents
from leadflow_pool.domain.pools import DEFAULT_POOLS, PoolDocument
from leadflow_pool.settings import PoolSettings
from leadflow_pool.temporal import TemporalWorker
from leadflow_shared.db import Database
from leadflow_shared.service import Component, Container


_IN_FORCE = "leadflow_pool.document"  # the transaction's pools document (the unit of work clears it at the end)


@dataclass
class PoolsCatalogue:
    """The pools document in force: its version is checked in every transaction that asks (one index read),
    the document read again only when a newer one was stored, so every process applies a change at once."""

    version: int = -1
    document: PoolDocument = DEFAULT_POOLS

    async def current(self, session: AsyncSession) -> PoolDocument:
        """Checked once per transaction: a batch of events asks for it once per event."""
        known = session.info.get(_IN_FORCE)
        if known is None:
            known = await self.at_version(session, await session.scalar(select(func.max(pool_documents.c.version))) or 0)
            session.info[_IN_FORCE] = known
        return known

    async def at_version(self, session: AsyncSession, stored: int) -> PoolDocument:
        """The document, given the version in force read by the caller's own statement (a claim's)."""
        if stored != self.version:
            self.version, self.document = await current_pools(session)
        return self.document


@dataclass
class Pool(Container[PoolSettings]):
    """pool's settings, database, pools document, business-day calendar and Temporal worker (whose client
    starts and signals the ownership workflows)."""

    temporal: TemporalWorker
    business_days: BusinessDays
    pools: PoolsCatalogue
    collusion: CollusionWatch

    def components(self) -> Sequence[Component]:
        return (self.business_days, self.temporal, self.collusion)


def bootstrap(settings: PoolSettings, db: Database) -> Pool:
    return Pool(settings, db, temporal=TemporalWorker(settings, db), business_days=BusinessDays(settings, db),
                pools=PoolsCatalogue(), collusion=CollusionWatch(settings, db))
