"""intake's read side: the queries partners' API calls answer (a lead's status, submissions for
settlement, imports' progress). Never another partner's rows: every query is filtered by partner."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from leadflow_intake.db import imports, leads, partners, submissions
from leadflow_shared.db import Database


async def lead_submissions(db: Database, partner_id: str, lead_id: uuid.UUID) -> list[Any]:
    """The partner's submissions of one lead, oldest first, each with the lead's status."""
    s = submissions.c
    async with db.uow() as uow:
        return list((await uow.session.execute(
            select(s.id, s.outcome, s.received_at, s.fields, leads.c.status).join(leads, leads.c.id == s.lead_id)
            .where(s.lead_id == lead_id, s.partner_id == partner_id).order_by(s.received_at)
        )).all())


async def submissions_page(db: Database, partner_id: str, *, since: datetime | None,
                           after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Any]:
    """The partner's submissions in (received_at, id) order: from `since`, after the cursor `after`."""
    s = submissions.c
    query = select(s.id, s.lead_id, s.outcome, s.duplicate_of, s.received_at, leads.c.status).join(
        leads, leads.c.id == s.lead_id).where(s.partner_id == partner_id)
    if since:
        query = query.where(s.received_at >= since)
    if after:
        at, last_id = after
        query = query.where(or_(s.received_at > at, and_(s.received_at == at, s.id > last_id)))
    async with db.uow() as uow:
        return list((await uow.session.execute(query.order_by(s.received_at, s.id).limit(limit))).all())


async def import_progress(db: Database, import_id: uuid.UUID, partner_id: str) -> dict[str, Any] | None:
    i = imports.c
    async with db.uow() as uow:
        row = (await uow.session.execute(
            select(i.id, i.filename, i.status, i.total, i.processed, i.created, i.merged, i.flagged, i.rejected,
                   i.error, i.created_at, i.updated_at)
            .where(i.id == import_id, i.partner_id == partner_id))).mappings().first()
    return dict(row) if row else None


async def rejected_rows(db: Database, import_id: uuid.UUID, partner_id: str) -> list[dict[str, Any]] | None:
    """An import's rejected rows ({row, data, errors}), None when the partner has no such import."""
    async with db.uow() as uow:
        return await uow.session.scalar(  # type: ignore[no-any-return]
            select(imports.c.rejected_rows).where(imports.c.id == import_id, imports.c.partner_id == partner_id))


async def partner_submission_counts(db: Database, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Submissions per partner between `start` and `end` (excluded) by outcome, for managers' settlement view:
    created, merged into a lead already known (duplicate) and flagged, with the leads they brought."""
    s = submissions.c
    outcome = s.outcome
    query = (
        select(s.partner_id, partners.c.name, func.count().label("submissions"),
               func.count().filter(outcome == "created").label("created"),
               func.count().filter(outcome == "merged").label("merged"),
               func.count().filter(outcome == "flagged").label("flagged"),
               func.count(func.distinct(s.lead_id)).label("leads"))
        .select_from(submissions.outerjoin(partners, partners.c.id == s.partner_id))
        .where(s.received_at >= start, s.received_at < end)
        .group_by(s.partner_id, partners.c.name)
        .order_by(func.count().desc(), s.partner_id)
    )
    async with db.uow() as uow:
        return [dict(row._mapping) for row in (await uow.session.execute(query)).all()]
