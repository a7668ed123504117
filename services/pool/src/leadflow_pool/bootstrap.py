"""pool's container: what its handlers need, built once per process by `bootstrap`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from leadflow_pool.settings import PoolSettings
from leadflow_pool.temporal import TemporalWorker
from leadflow_shared.db import Database
from leadflow_shared.service import Component, Container


@dataclass
class Pool(Container[PoolSettings]):
    """pool's settings, database and Temporal worker (whose client starts and signals the workflows)."""

    temporal: TemporalWorker

    def components(self) -> Sequence[Component]:
        return (self.temporal,)


def bootstrap(settings: PoolSettings, db: Database) -> Pool:
    return Pool(settings, db, temporal=TemporalWorker(settings, db))
