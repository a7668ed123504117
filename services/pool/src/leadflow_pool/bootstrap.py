"""pool's container: what its handlers need, built once per process by `bootstrap`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_pool.business_days import BusinessDays
from leadflow_pool.db import current_pools
from leadflow_pool.domain.pools import DEFAULT_POOLS, PoolDocument
from leadflow_pool.settings import PoolSettings
from leadflow_pool.temporal import TemporalWorker
from leadflow_shared.db import Database
from leadflow_shared.service import Component, Container


@dataclass
class PoolsCatalogue:
    """The pools document in force, re-read when older than `refresh_s` (every process sees a change within it)."""

    refresh_s: float
    version: int = -1
    document: PoolDocument = DEFAULT_POOLS
    _read_at: float = field(default=0.0, repr=False)

    async def current(self, session: AsyncSession, *, fresh: bool = False) -> PoolDocument:
        if fresh or time.monotonic() - self._read_at > self.refresh_s:
            self.version, self.document = await current_pools(session)
            self._read_at = time.monotonic()
        return self.document


@dataclass
class Pool(Container[PoolSettings]):
    """pool's settings, database, pools document, business-day calendar and Temporal worker (whose client
    starts and signals the ownership workflows)."""

    temporal: TemporalWorker
    business_days: BusinessDays
    pools: PoolsCatalogue

    def components(self) -> Sequence[Component]:
        return (self.business_days, self.temporal)


def bootstrap(settings: PoolSettings, db: Database) -> Pool:
    return Pool(settings, db, temporal=TemporalWorker(settings, db), business_days=BusinessDays(settings, db),
                pools=PoolsCatalogue(settings.pools_refresh_s))
