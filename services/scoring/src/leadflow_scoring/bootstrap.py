"""scoring's container: what its handlers need, built once per process by `bootstrap`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from leadflow_scoring.domain.model import Caller
from leadflow_scoring.handlers import ScoringHandlers
from leadflow_scoring.jobs import ActiveScorer, ActiveVersionWatcher, RescoreJob, WaitingActivityExpiry
from leadflow_scoring.registry import CompanyRegistry, TableRegistry
from leadflow_scoring.settings import ScoringSettings
from leadflow_shared.auth import KeyCache
from leadflow_shared.db import Database
from leadflow_shared.service import Component, Container


@dataclass
class Scoring(Container[ScoringSettings]):
    """scoring's settings, database and parts: the scorer in force (hot-swapped by the watcher), the
    handlers that apply events with it, API keys checked lately, and the background jobs."""

    scorer: ActiveScorer
    handlers: ScoringHandlers
    key_cache: KeyCache[Caller]
    watcher: ActiveVersionWatcher
    rescore: RescoreJob
    expiry: WaitingActivityExpiry

    def components(self) -> Sequence[Component]:
        return (self.watcher, self.rescore, self.expiry)  # the rules load first: consumers wait for them


def bootstrap(settings: ScoringSettings, db: Database, *, registry: CompanyRegistry | None = None) -> Scoring:
    scorer = ActiveScorer()
    handlers = ScoringHandlers(scorer, registry or TableRegistry())
    return Scoring(
        settings, db, scorer=scorer, handlers=handlers, key_cache=KeyCache(settings.scoring_auth_cache_s),
        watcher=ActiveVersionWatcher(db, scorer, interval_s=settings.scoring_watch_interval_s,
                                     rules_file=settings.scoring_rules_file),
        rescore=RescoreJob(db, handlers, scorer, every_s=settings.scoring_rescore_interval_s,
                           batch=settings.scoring_rescore_batch),
        expiry=WaitingActivityExpiry(db, retention_days=settings.scoring_waiting_retention_days),
    )
