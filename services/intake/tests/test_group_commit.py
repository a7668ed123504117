"""Group commit: waiting posts share a transaction; a failing group falls back to one lead each."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from leadflow_intake.domain.lead import CleanLead, clean
from leadflow_intake.group_commit import GroupCommitter
from leadflow_intake.handlers import Accepted


class _Uow:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def commit(self) -> None:
        self.log.append("commit")


class _Db:
    def __init__(self) -> None:
        self.log: list[str] = []

    @contextlib.asynccontextmanager
    async def uow(self) -> AsyncIterator[_Uow]:
        self.log.append("begin")
        yield _Uow(self.log)


class _Pipeline:
    """Accepts leads as the real pipeline would answer; refuses any group holding a lead named 'bad'."""

    def __init__(self) -> None:
        self.groups: list[list[tuple[str, str]]] = []

    async def submit(self, uow: Any, items: list[CleanLead], *, partner_id: list[str]) -> list[Accepted]:
        await asyncio.sleep(0.01)  # a transaction's round trips: the next posts arrive meanwhile
        self.groups.append([(lead.fields["name"], p) for lead, p in zip(items, partner_id, strict=True)])
        if any(lead.fields["name"] == "bad" for lead in items):
            raise ValueError("a lead Postgres refused")
        return [Accepted(lead_id=_uuid(n), submission_id=_uuid(n + 1000), outcome="created")
                for n, _ in enumerate(items)]


def _uuid(n: int) -> Any:
    import uuid

    return uuid.UUID(int=n + 1)


def _lead(name: str, n: int) -> CleanLead:
    lead = clean({"name": name, "mobile": f"+86139{n:08d}"})
    assert isinstance(lead, CleanLead)
    return lead


def test_posts_that_arrive_during_a_transaction_share_the_next() -> None:
    pipeline, db = _Pipeline(), _Db()

    async def run() -> list[Accepted]:
        committer = GroupCommitter(db, pipeline)  # type: ignore[arg-type]
        first = asyncio.create_task(committer.submit(_lead("n0", 0), "p0"))
        await asyncio.sleep(0.001)  # its transaction has started
        rest = await asyncio.gather(*(committer.submit(_lead(f"n{i}", i), f"p{i % 2}") for i in range(1, 7)))
        return [await first, *rest]

    answers = asyncio.run(run())
    assert [a.lead_id for a in answers] == [_uuid(0), *(_uuid(i) for i in range(6))]
    # The first post does not wait for company; the six that came during its transaction go together.
    assert pipeline.groups == [[("n0", "p0")], [(f"n{i}", f"p{i % 2}") for i in range(1, 7)]]
    assert db.log == ["begin", "commit", "begin", "commit"]


def test_one_bad_lead_fails_only_its_own_post() -> None:
    pipeline, db = _Pipeline(), _Db()

    async def run() -> list[Any]:
        committer = GroupCommitter(db, pipeline)  # type: ignore[arg-type]
        return await asyncio.gather(*(committer.submit(_lead(name, i), "p") for i, name in
                                      enumerate(["first", "good", "bad", "fine"])), return_exceptions=True)

    first, good, bad, fine = asyncio.run(run())
    assert isinstance(bad, ValueError)
    assert all(isinstance(a, Accepted) for a in (first, good, fine))
    # The group failed as a whole, then each lead had a transaction of its own.
    assert [[name for name, _ in g] for g in pipeline.groups] == [["first", "good", "bad", "fine"], ["first"],
                                                                  ["good"], ["bad"], ["fine"]]
    assert db.log.count("commit") == 3


def test_a_lone_post_is_committed_at_once_and_the_next_starts_a_new_group() -> None:
    pipeline, db = _Pipeline(), _Db()

    async def run() -> None:
        committer = GroupCommitter(db, pipeline)  # type: ignore[arg-type]
        await committer.submit(_lead("one", 1), "p")
        await committer.submit(_lead("two", 2), "p")

    asyncio.run(run())
    assert pipeline.groups == [[("one", "p")], [("two", "p")]]
