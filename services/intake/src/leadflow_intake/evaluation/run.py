"""Running the labelled set through intake's own submission pipeline on a scratch database.

The companies' first leads are committed; each case is then submitted in a transaction of its own that is
rolled back, so no case sees another (a missed link would otherwise become a company later cases match).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from pydantic import ValidationError

from leadflow_intake.db import metadata
from leadflow_intake.domain.lead import CleanLead, clean
from leadflow_intake.domain.risk import RiskPolicy
from leadflow_intake.evaluation.cases import Case, Company
from leadflow_intake.handlers import Accepted, SubmissionPipeline
from leadflow_intake.schemas import LeadIn
from leadflow_shared import migrations
from leadflow_shared.db import Database, recreate_database

SCRATCH_DATABASE = "leadflow_dedupe_eval"
GOALS = {"precision": 0.98, "recall": 0.95}


@dataclass
class Tally:
    same: int = 0  # cases that should link (or merge)
    apart: int = 0  # cases that should not
    right: int = 0  # `same` cases linked to their company (merged into their person)
    missed: int = 0  # `same` cases left unlinked
    wrong: int = 0  # links that should not be: an `apart` case linked, or a `same` one linked elsewhere
    examples: list[str] = field(default_factory=list)  # the names missed or wrongly linked, a few per kind

    @property
    def precision(self) -> float:
        return self.right / (self.right + self.wrong) if self.right + self.wrong else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.same if self.same else 1.0

    def add(self, other: Tally) -> None:
        for name in ("same", "apart", "right", "missed", "wrong"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Report:
    by_kind: dict[tuple[str, str], Tally] = field(default_factory=dict)  # (subject, kind)

    def subject(self, subject: str) -> Tally:
        total = Tally()
        for (s, _), tally in self.by_kind.items():
            if s == subject:
                total.add(tally)
        return total

    def meets_goals(self) -> bool:
        subjects = {s for s, _ in self.by_kind}
        return all(self.subject(s).precision >= GOALS["precision"] and self.subject(s).recall >= GOALS["recall"]
                   for s in subjects)


def _lead(fields: dict[str, str]) -> CleanLead:
    """As POST /v1/leads reads a body: the schema, then cleaning."""
    try:
        body = LeadIn.model_validate(fields)
    except ValidationError as exc:
        raise ValueError(f"the evaluation set holds a lead the API refuses: {fields}: {exc}") from exc
    lead = clean(body.model_dump(mode="json", exclude_none=True))
    if isinstance(lead, list):
        raise ValueError(f"the evaluation set holds a lead the API refuses: {fields}: {lead}")
    return lead


async def evaluate(admin_dsn: str, companies: tuple[Company, ...], cases: list[Case],
                   advance: Callable[[int], None] = lambda _: None, *, database: str = SCRATCH_DATABASE) -> Report:
    """Post the companies' first leads, then every case, on a scratch `database` made afresh beside the one
    `admin_dsn` names (on the same server)."""
    dsn = admin_dsn.rpartition("/")[0] + f"/{database}"
    await _fresh_database(admin_dsn, database)
    db = Database(dsn, metadata, "/leadflow/dedupe-eval", pool_size=2)
    pipeline = SubmissionPipeline(RiskPolicy())
    try:
        firsts: dict[int, Accepted] = {}
        for company in companies:
            async with db.uow() as uow:
                firsts[company.number] = (await pipeline.submit(uow, [_lead(company.base_fields())],
                                                                partner_id=None))[0]
                await uow.commit()
            advance(1)
        report = Report()
        known = {first.company_id for first in firsts.values()}  # a case's company outside these is new
        for case in cases:
            async with db.uow() as uow:  # never committed: rolled back on leaving
                accepted = (await pipeline.submit(uow, [_lead(case.lead_fields())], partner_id=None))[0]
            _score(report, case, accepted, firsts[case.base], known)
            advance(1)
        return report
    finally:
        await db.dispose()


def _score(report: Report, case: Case, accepted: Accepted, first: Accepted, known: set[uuid.UUID | None]) -> None:
    tally = report.by_kind.setdefault((case.subject, case.kind), Tally())
    found: uuid.UUID | None
    if case.subject == "company":
        found, meant = (accepted.company_id if accepted.company_id in known else None), first.company_id
    else:
        found, meant = (accepted.duplicate_of, first.lead_id)
    if case.expect == "same":
        tally.same += 1
        if found == meant:
            tally.right += 1
            return
        if found is None:
            tally.missed += 1
        else:
            tally.wrong += 1
    else:
        tally.apart += 1
        if found is None:
            return
        tally.wrong += 1
    if len(tally.examples) < 3:
        tally.examples.append(case.name or case.mobile or case.email or case.wechat)


async def _fresh_database(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(admin_dsn.replace("postgresql+asyncpg", "postgresql"))
    try:
        await recreate_database(conn, database)
    finally:
        await conn.close()
    await asyncio.to_thread(migrations.upgrade, "leadflow_intake", admin_dsn.rpartition("/")[0] + f"/{database}")
