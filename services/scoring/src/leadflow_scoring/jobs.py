"""scoring's background work: following the active rules and model (hot swap), re-scoring leads so
that decay and new rules show even when a lead does nothing (养鱼), and expiring activities that waited
too long for their lead."""

from __future__ import annotations

import asyncio
import io
import tarfile
import tempfile
from abc import abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadflow_shared.db import Database
from leadflow_shared.errors import TransientError
from leadflow_shared.logging import get_logger
from leadflow_shared.service import BackgroundComponent

from leadflow_scoring.db import ActivityRepository, LeadRepository, ModelRepository, RuleSetRepository
from leadflow_scoring.domain.rules_yaml import default_rules_text, load_rules_yaml
from leadflow_scoring.domain.scorer import Scorer
from leadflow_scoring.handlers import ScoringHandlers

log = get_logger(__name__)


def pack_model(directory: Path) -> bytes:
    """A model directory as one tar.gz, to keep in the database."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(directory.iterdir()):
            tar.add(path, arcname=path.name)
    return buffer.getvalue()


def load_packed_model(artifact: bytes) -> Any:
    from leadflow_scoring.predictive import load_model  # scikit-learn loads only where a model is used

    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(artifact), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        return load_model(Path(tmp))


async def ensure_active_rules(db: Database, rules_file: str | None) -> None:
    """At first start, the configured (or built-in) rules become the active ones."""
    text = Path(rules_file).read_text(encoding="utf-8") if rules_file else default_rules_text()
    rules = load_rules_yaml(text)
    async with db.uow() as uow:
        repo = RuleSetRepository(uow.session)
        if await repo.active_version() is None:
            await repo.store(rules.version, text, "initial")
            await repo.activate(rules.version)
            await uow.commit()


class _Periodic(BackgroundComponent):
    """A loop that runs `round()` every `interval_s` and survives Postgres being away."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s

    @abstractmethod
    async def round(self) -> None: ...

    async def run(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(f"{self.name} round failed", error=repr(exc))
            await asyncio.sleep(self.interval_s)


class ActiveScorer:
    """The scorer in force (the active rules and model), swapped whole by the watcher: an event is scored
    wholly by the old or the new. Called for it, it refuses while none is loaded yet: events that come
    before the rules wait (transient), never dead-letter."""

    def __init__(self) -> None:
        self.current: Scorer | None = None

    def __call__(self) -> Scorer:
        if self.current is None:
            raise TransientError("scoring rules not loaded yet")
        return self.current


class ActiveVersionWatcher(_Periodic):
    """Loads the active rule set and model whenever another version is activated (by API or CLI, on any
    replica) into the active scorer."""

    name = "active-version-watcher"

    def __init__(self, db: Database, scorer: ActiveScorer, *, interval_s: float, rules_file: str | None) -> None:
        super().__init__(interval_s)
        self.db = db
        self.scorer = scorer
        self.rules_file = rules_file
        self.loaded = asyncio.Event()

    async def start(self) -> None:
        await ensure_active_rules(self.db, self.rules_file)
        await self.round()
        await super().start()

    async def check(self) -> None:
        await super().check()
        if self.scorer.current is None:
            raise RuntimeError("no rules loaded yet")

    async def round(self) -> None:
        async with self.db.uow() as uow:
            rules_row = await RuleSetRepository(uow.session).active()
            model_version = await ModelRepository(uow.session).active_version()
            current = self.scorer.current
            rules = current.rules if current and rules_row and current.rules.version == rules_row["version"] else None
            if rules is None and rules_row:
                rules = load_rules_yaml(rules_row["yaml"])
                log.info("rules loaded", version=rules.version)
            model = current.model if current and current.model_version == model_version else None
            if model is None and model_version:
                artifact = await ModelRepository(uow.session).artifact(model_version)
                model = await asyncio.to_thread(load_packed_model, artifact) if artifact else None
                log.info("predictive model loaded", version=model_version)
        if rules is not None:
            self.scorer.current = Scorer(rules, model)
            self.loaded.set()


class RescoreJob(_Periodic):
    """Re-scores leads not scored for `scoring_rescore_interval_s`, or scored under other rules, a batch
    per transaction; publishes those whose score, grade or stage moved."""

    name = "rescore"

    def __init__(self, db: Database, handlers: ScoringHandlers, scorer: ActiveScorer, *, every_s: float,
                 batch: int) -> None:
        super().__init__(min(60.0, every_s))
        self.db = db
        self.handlers = handlers
        self.scorer = scorer
        self.every = timedelta(seconds=every_s)
        self.batch = batch

    async def round(self) -> None:
        if self.scorer.current is not None:
            await rescore_due(self.db, self.handlers, self.scorer.current, datetime.now(UTC) - self.every, self.batch)


async def rescore_due(db: Database, handlers: ScoringHandlers, scorer: Scorer, before: datetime, batch: int,
                      progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """(re-scored, published) for every lead due, all with one scorer (rules swapped meanwhile wait for
    the next round); used by the job and by `leadflow scoring rescore`."""
    rescored = published = 0
    started = datetime.now(UTC)
    while True:
        async with db.uow() as uow:
            due = await LeadRepository(uow.session).due_for_rescore(before, scorer.rules.version, started, batch)
            if not due:
                return rescored, published
            published += await handlers.rescore(uow, due, scorer)
            await uow.commit()
        rescored += len(due)
        if progress:
            progress(len(due))


class WaitingActivityExpiry(_Periodic):
    """Deletes activities that have waited `scoring_waiting_retention_days` for a lead that never came
    (a visitor, a mistyped contact), a batch per transaction, once an hour."""

    name = "waiting-activity-expiry"

    def __init__(self, db: Database, *, retention_days: float) -> None:
        super().__init__(3600.0)
        self.db = db
        self.retention_days = retention_days

    async def round(self) -> None:
        if self.retention_days > 0:
            expired = await expire_waiting(self.db, datetime.now(UTC) - timedelta(days=self.retention_days))
            if expired:
                log.info("waiting activities expired", count=expired, retention_days=self.retention_days)


async def expire_waiting(db: Database, received_before: datetime, batch: int = 5000) -> int:
    """How many activities still waiting for their lead, received before the given time, were deleted."""
    expired = 0
    while True:
        async with db.uow() as uow:
            found, deleted = await ActivityRepository(uow.session).expire_waiting(received_before, batch)
            await uow.commit()
        expired += deleted
        if found < batch:
            return expired
