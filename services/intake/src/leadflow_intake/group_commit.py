"""Group commit of single-lead posts: the leads posted while a transaction runs share the next one.

A single POST alone costs four round trips to Postgres (BEGIN with the locks, look-up, write, COMMIT) and
a relay round; under load those, not the leads, fill the CPU. One submitter at a time takes every lead waiting
and runs them through the pipeline as one batch (the pipeline is set-wise: locks, look-ups and writes
are one statement each however many leads). Nothing waits on purpose: an idle service commits a lone
lead at once, and groups grow only as fast as posts arrive. Each post is answered after its group has
committed, so a 202 still means durably accepted.

A group that fails is run again one lead per transaction, so that one bad lead fails only its own post.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from prometheus_client import Histogram

from leadflow_intake.domain.lead import CleanLead
from leadflow_intake.handlers import Accepted, SubmissionPipeline
from leadflow_shared.db import Database
from leadflow_shared.logging import get_logger

log = get_logger(__name__)

GROUP_SIZE = Histogram(
    "leadflow_intake_group_commit_leads", "Single-lead posts committed together in one transaction.",
    buckets=(1, 2, 3, 5, 10, 20, 50, 100, 200),
)


@dataclass(frozen=True)
class _Waiting:
    lead: CleanLead
    partner_id: str
    answer: asyncio.Future[Accepted]


class GroupCommitter:
    def __init__(self, db: Database, pipeline: SubmissionPipeline, *, max_group: int = 200) -> None:
        self._db = db
        self._pipeline = pipeline
        self._max_group = max_group
        self._waiting: list[_Waiting] = []
        self._submitter: asyncio.Task[None] | None = None

    async def submit(self, lead: CleanLead, partner_id: str) -> Accepted:
        """Accept one lead, committed with whatever others are waiting; returns once it is committed."""
        answer: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        answer.add_done_callback(_retrieved)  # a post whose client left must not log "never retrieved"
        self._waiting.append(_Waiting(lead, partner_id, answer))
        if self._submitter is None or self._submitter.done():
            self._submitter = asyncio.create_task(self._submit_waiting(), name="intake-group-commit")
        # A client that hangs up does not stop its group: the lead may be committed, like any post whose
        # connection drops after the work started.
        return await asyncio.shield(answer)

    async def _submit_waiting(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:self._max_group], self._waiting[self._max_group:]
            try:
                await self._commit(group)
            except Exception as exc:
                if len(group) == 1:
                    _fail(group[0], exc)
                    continue
                log.warning("group commit failed; committing its leads one by one", leads=len(group),
                            error=repr(exc))
                for waiting in group:
                    try:
                        await self._commit([waiting])
                    except Exception as single:
                        _fail(waiting, single)

    async def _commit(self, group: list[_Waiting]) -> None:
        async with self._db.uow() as uow:
            accepted = await self._pipeline.submit(uow, [w.lead for w in group],
                                                   partner_id=[w.partner_id for w in group])
            await uow.commit()
        GROUP_SIZE.observe(len(group))
        for waiting, result in zip(group, accepted, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(result)


def _retrieved(answer: asyncio.Future[Accepted]) -> None:
    if not answer.cancelled():
        answer.exception()


def _fail(waiting: _Waiting, error: Exception) -> None:
    if not waiting.answer.done():
        waiting.answer.set_exception(error)
