"""The dispatcher: sends queued messages when they are due, retries failed ones with backoff, and records every
outcome.

Each round claims the due messages (`FOR UPDATE SKIP LOCKED`: replicas share the work), counts the try and leases
each message (due again when the lease ends) and commits, all before anything is sent: a process that dies
mid-send leaves its messages to be tried again once their leases run out. The sends run in threads (apprise
blocks); each outcome is recorded on its own: sent, pending again after its backoff (out of the person's quiet
hours), or failed once the tries are spent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from leadflow_notify import metrics
from leadflow_notify.channels import DeliveryFailed, redact
from leadflow_notify.db import NotificationRepository
from leadflow_notify.domain.delivery import GiveUp, Postpone, Status, after_try, on_claim
from leadflow_notify.domain.model import ChannelTarget
from leadflow_notify.settings import NotifySettings
from leadflow_shared.db import Database
from leadflow_shared.logging import get_logger
from leadflow_shared.service import BackgroundComponent

log = get_logger(__name__)


class Sends(Protocol):
    def send(self, target: ChannelTarget, title: str, body: str) -> None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


class Dispatcher(BackgroundComponent):
    """Component: a round every `notify_poll_interval_s` (at once again while rounds come back full)."""

    name = "notify-dispatcher"

    def __init__(self, settings: NotifySettings, db: Database, sender: Sends,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.db = db
        self.sender = sender
        self.clock = clock
        self._executor: ThreadPoolExecutor | None = None
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due messages now (one was just queued)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                claimed = await self.round()
            except Exception as exc:  # Postgres away: the next round tries again
                log.warning("notify dispatch round failed", error=repr(exc))
                claimed = 0
            if claimed < self.settings.notify_batch_size:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.settings.notify_poll_interval_s)
                except TimeoutError:
                    pass

    async def stop(self) -> None:
        await super().stop()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def round(self) -> int:
        """Claim what is due, send it, record each outcome; how many messages were claimed."""
        s, now = self.settings, self.clock()
        sends: list[tuple[dict[str, Any], ChannelTarget]] = []
        async with self.db.uow() as uow:
            repo = NotificationRepository(uow.session)
            due = await repo.claim_due(now, s.notify_batch_size)
            for message in due:
                decision = on_claim(message["recipient"], message["channel"], message["kind"], now)
                if isinstance(decision, Postpone):
                    await repo.postpone(message["id"], decision.until)
                elif isinstance(decision, GiveUp):
                    await repo.give_up(message["id"], decision.en)
                    metrics.FAILED.labels(message["channel"]).inc()
                    log.warning("notification dropped", id=message["id"], person_id=message["person_id"],
                                channel=message["channel"], reason=decision.en)
                else:
                    sends.append((message, decision.target))
            await repo.lease([m["id"] for m, _ in sends], now + timedelta(seconds=s.notify_lease_s))
            await uow.commit()
        if sends:
            await asyncio.gather(*(self._deliver(message, target) for message, target in sends))
        return len(due)

    async def _deliver(self, message: dict[str, Any], target: ChannelTarget) -> None:
        s, channel, attempts = self.settings, message["channel"], message["attempts"] + 1
        if self._executor is None:
            self._executor = ThreadPoolExecutor(s.notify_send_concurrency, thread_name_prefix="notify-send")
        started = time.perf_counter()
        error: str | None = None
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._executor, self.sender.send, target, message["title"], message["body"])
        except DeliveryFailed as exc:
            error = exc.reason
        except Exception as exc:  # a bug of ours or of a plugin: a failed try all the same
            error = redact(f"{type(exc).__name__}: {exc}", target.secrets())[:1000]
        metrics.SEND_SECONDS.labels(channel).observe(time.perf_counter() - started)
        now = self.clock()
        outcome = after_try(error is None, attempts, now, message["recipient"], message["kind"],
                            max_attempts=s.notify_max_attempts,
                            backoff_s=s.notify_backoff_s, backoff_max_s=s.notify_backoff_max_s)
        try:
            async with self.db.uow() as uow:
                recorded = await NotificationRepository(uow.session).settle(
                    message["id"], attempts, outcome.status, now=now, next_attempt_at=outcome.next_attempt_at,
                    error=error)
                await uow.commit()
        except Exception as exc:  # the lease brings the message back; a sent one may then go twice
            log.error("notification outcome not recorded", id=message["id"], channel=channel, error=repr(exc))
            return
        context = {"id": message["id"], "person_id": message["person_id"], "channel": channel, "attempts": attempts}
        if not recorded:
            log.warning("notification outcome superseded (its lease had run out)", **context)
        elif outcome.status == Status.sent:
            metrics.SENT.labels(channel).inc()
            log.info("notification sent", kind=message["kind"], **context)
        else:
            metrics.TRY_FAILURES.labels(channel).inc()
            if outcome.status == Status.failed:
                metrics.FAILED.labels(channel).inc()
            retry_at = outcome.next_attempt_at.isoformat() if outcome.next_attempt_at else None
            log.warning("notification not sent", error=error, status=str(outcome.status), retry_at=retry_at, **context)
