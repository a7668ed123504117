"""opportunity's writes: the leads it hears of, customers and contacts, opportunities with their stage history
and payments, the pipeline document, and the reporting projection (tables in tables.py, reads in views.py)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_, case, func, insert as plain_insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_opportunity.domain.conversion import CustomerIdentity
from leadflow_opportunity.domain.funnel import MEASURES, STEPS, CohortKey, Vector
from leadflow_opportunity.domain.model import ConversionStatus
from leadflow_opportunity.domain.pipeline import DEFAULT_PIPELINE, Pipeline, parse_pipeline
from leadflow_opportunity.tables import (
    channel_spend, contacts, conversions, customers, funnel_cohorts, funnel_leads, funnel_months, leads, metadata, opportunities,
    payments, pipeline_documents, stage_changes, targets,
)
from leadflow_shared.db import RowsStatement, driver_connection, execute_rows, insert_rows, rows_statement

__all__ = ["metadata", "LeadRepository", "CustomerRepository", "OpportunityRepository", "ProjectionRepository",
           "PlanRepository", "current_pipeline", "store_pipeline"]


class LeadRepository:
    """What opportunity knows of each lead: its owner and team, its facts, and how far it got."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def set_owners(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Who works each lead since `owner_at` (rows of lead_id, owner_id, status, owner_at, team_id,
        qualified_by), in order: an older ownership told late (topics are consumed apart) changes nothing; a
        converted lead stays its converter's."""
        if rows:
            await execute_rows(self.session, _SET_OWNER, [{**row, "team_id": row["team_id"] if row["owner_id"] else None}
                                                           for row in rows])

    async def received(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """intake's facts of each lead (lead_id, snapshot, source, partner_id, customer_id, received_at): the
        first receipt's time stays, the newest snapshot wins."""
        if rows:
            await execute_rows(self.session, _RECEIVED, [{**row, "status": ConversionStatus.unowned} for row in rows])

    async def qualified(self, rows: Sequence[tuple[uuid.UUID, Any]]) -> None:
        """scoring found these leads marketing-qualified (MQL) at these times: the first time stays."""
        if rows:
            await execute_rows(self.session, _QUALIFIED, [{"lead_id": lead_id, "status": ConversionStatus.unowned,
                                                            "mql_at": at} for lead_id, at in rows])

    async def for_update(self, lead_id: uuid.UUID) -> dict[str, Any] | None:
        """The lead, locked, with whether it converted and the pipeline's stored version: one round trip
        (a conversion's hot path, sent to the driver)."""
        row = await (await driver_connection(self.session)).fetchrow(_LEAD_FOR_UPDATE, lead_id)
        return dict(row) if row else None

    async def update(self, lead_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(update(leads).where(leads.c.lead_id == lead_id).values(**values, updated_at=func.now()))


_LEAD_FOR_UPDATE = """
    SELECT l.*, c.lead_id IS NOT NULL AS converted,
           (SELECT coalesce(max(version), 0) FROM opportunity.pipeline_documents) AS pipeline_version
    FROM opportunity.leads l LEFT JOIN opportunity.conversions c USING (lead_id)
    WHERE l.lead_id = $1 FOR UPDATE OF l"""


def _set_owner(stmt: Any) -> Any:
    new = stmt.excluded
    newer = or_(leads.c.owner_at.is_(None), leads.c.owner_at <= new.owner_at)
    return stmt.on_conflict_do_update(index_elements=["lead_id"], set_={
        "owner_id": case((newer, new.owner_id), else_=leads.c.owner_id),
        "status": case((newer, new.status), else_=leads.c.status),
        "owner_at": case((newer, new.owner_at), else_=leads.c.owner_at),
        "team_id": case((and_(newer, new.team_id.is_not(None)), new.team_id),
                        else_=func.coalesce(leads.c.team_id, new.team_id)),
        "qualified_by": func.coalesce(new.qualified_by, leads.c.qualified_by),
        "updated_at": func.now(),
    }, where=leads.c.status != ConversionStatus.converted)


def _received(stmt: Any) -> Any:
    new = stmt.excluded
    return stmt.on_conflict_do_update(index_elements=["lead_id"], set_={
        "snapshot": new.snapshot, "source": new.source,
        "partner_id": func.coalesce(leads.c.partner_id, new.partner_id),
        "customer_id": func.coalesce(new.customer_id, leads.c.customer_id),
        "received_at": func.least(leads.c.received_at, new.received_at),
        "updated_at": func.now()})


def _qualified(stmt: Any) -> Any:
    return stmt.on_conflict_do_update(index_elements=["lead_id"], set_={
        "mql_at": func.least(leads.c.mql_at, stmt.excluded.mql_at), "updated_at": func.now()})


# One statement each, a batch's rows in one JSON document (shared.db.rows_statement): compiled once.
_SET_OWNER = rows_statement(leads, ("lead_id", "owner_id", "status", "owner_at", "team_id", "qualified_by"),
                            ["lead_id"], _set_owner)
_RECEIVED = rows_statement(leads, ("lead_id", "status", "snapshot", "source", "partner_id", "customer_id",
                                   "received_at"), ["lead_id"], _received)
_QUALIFIED = rows_statement(leads, ("lead_id", "status", "mql_at"), ["lead_id"], _qualified)


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, identity: CustomerIdentity, linked: uuid.UUID | None) -> dict[str, Any] | None:
        """The customer these keys name, locked, with its contacts: by credit code, then by the name in its
        region (companies), or by mobile (people); else the one intake linked the lead to; else by the name
        read through a slip; the oldest when several match. Two credit codes are two companies, whatever their names. One round trip."""
        row = await (await driver_connection(self.session)).fetchrow(
            _FIND_CUSTOMER, str(identity.kind), identity.credit_code, identity.name_key, identity.mobile, linked,
            list(identity.read_as))
        if row is None:
            return None
        found = dict(row)
        found["contacts"] = [{**c, "contact_id": uuid.UUID(c["contact_id"])} for c in found["contacts"]]
        return found

    @staticmethod
    def new(identity: CustomerIdentity, owner_id: str | None, lead_id: uuid.UUID) -> dict[str, Any]:
        """A new customer's row (inserted with the conversion's other rows: OpportunityRepository.add)."""
        return {"customer_id": uuid.uuid4(), "kind": str(identity.kind), "name": identity.name,
                "name_key": identity.name_key, "credit_code": identity.credit_code, "mobile": identity.mobile,
                "province": identity.province, "city": identity.city, "industry": identity.industry,
                "owner_id": owner_id, "created_from_lead": lead_id}

    async def complete(self, customer: dict[str, Any], identity: CustomerIdentity) -> None:
        """A merge teaches the customer what it lacked (its credit code, its place), never overwrites."""
        values = {k: getattr(identity, k) for k in ("credit_code", "province", "city", "industry")
                  if getattr(identity, k) and not customer.get(k)}
        if values:
            await self.session.execute(update(customers).where(customers.c.customer_id == customer["customer_id"])
                                       .values(**values))
            customer.update(values)

    async def fill_contact(self, contact_id: uuid.UUID, values: Mapping[str, Any]) -> None:
        if values:
            await self.session.execute(update(contacts).where(contacts.c.contact_id == contact_id).values(**values))


_FIND_CUSTOMER = """
    SELECT c.*, (SELECT coalesce(jsonb_agg(jsonb_build_object('contact_id', t.contact_id, 'name', t.name,
                        'title', t.title, 'mobile', t.mobile, 'wechat', t.wechat, 'email', t.email)
                        ORDER BY t.created_at), '[]')
                 FROM opportunity.contacts t WHERE t.customer_id = c.customer_id) AS contacts
    FROM opportunity.customers c
    WHERE c.kind = $1 AND (c.credit_code = $2 OR c.name_key = $3 OR c.mobile = $4 OR c.customer_id = $5
                           OR c.name_key = ANY($6::text[]))
      AND ($2::text IS NULL OR coalesce(c.credit_code, $2) = $2)
    ORDER BY CASE WHEN c.credit_code = $2 THEN 0 WHEN c.name_key = $3 THEN 1 WHEN c.mobile = $4 THEN 2
                  WHEN c.customer_id = $5 THEN 3 ELSE 4 END,
             c.created_at
    LIMIT 1 FOR UPDATE OF c"""


class OpportunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def conversion(self, lead_id: uuid.UUID) -> dict[str, Any] | None:
        row = (await self.session.execute(select(conversions).where(conversions.c.lead_id == lead_id))).mappings().first()
        return dict(row) if row else None

    async def add(self, rows: Sequence[tuple[Table, Sequence[dict[str, Any]]]], lead_id: uuid.UUID) -> None:
        """A conversion's rows (customer and contact when new, opportunity, conversion, first stage, outbox)
        in one statement, then the lead marked converted."""
        await insert_rows(self.session, rows)
        await (await driver_connection(self.session)).execute(
            "UPDATE opportunity.leads SET status = 'converted', updated_at = now() WHERE lead_id = $1", lead_id)

    async def for_update(self, opportunity_id: uuid.UUID) -> dict[str, Any] | None:
        return await self._locked(opportunities.c.opportunity_id == opportunity_id)

    async def by_contract_for_update(self, contract_ref: str) -> dict[str, Any] | None:
        return await self._locked(opportunities.c.contract_ref == contract_ref)

    async def _locked(self, condition: Any) -> dict[str, Any] | None:
        row = (await self.session.execute(select(opportunities).where(condition).with_for_update())).mappings().first()
        return dict(row) if row else None

    async def contract_taken(self, contract_ref: str, opportunity_id: uuid.UUID) -> bool:
        found = await self.session.scalar(select(opportunities.c.opportunity_id).where(
            opportunities.c.contract_ref == contract_ref, opportunities.c.opportunity_id != opportunity_id))
        return found is not None

    async def move(self, opportunity_id: uuid.UUID, values: Mapping[str, Any], change: Mapping[str, Any]) -> None:
        await self.session.execute(update(opportunities).where(opportunities.c.opportunity_id == opportunity_id)
                                   .values(**values))
        await self.session.execute(plain_insert(stage_changes).values(opportunity_id=opportunity_id, **change))

    async def add_payment(self, payment: Mapping[str, Any]) -> bool:
        """Record a payment once: False when billing told it before."""
        result = await self.session.execute(
            insert(payments).values(**payment).on_conflict_do_nothing(index_elements=["payment_id"])
            .returning(payments.c.payment_id))
        return result.first() is not None

    async def paid(self, opportunity_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = (await self.session.execute(select(payments).where(payments.c.opportunity_id == opportunity_id)
                                           .order_by(payments.c.received_at))).mappings()
        return [dict(r) for r in rows]

    async def realize(self, opportunity_id: uuid.UUID, at: Any, amount: Any) -> None:
        await self.session.execute(update(opportunities).where(opportunities.c.opportunity_id == opportunity_id)
                                   .values(realized_at=at, realized_amount=amount))


async def current_pipeline(session: AsyncSession) -> tuple[int, Pipeline]:
    """The pipeline in force and its version (0: none stored, the default B2B pipeline applies)."""
    row = (await session.execute(select(pipeline_documents.c.version, pipeline_documents.c.document)
                                 .order_by(pipeline_documents.c.version.desc()).limit(1))).first()
    if row is None:
        return 0, DEFAULT_PIPELINE
    return row.version, parse_pipeline(row.document)


async def pipeline_version(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.coalesce(func.max(pipeline_documents.c.version), 0))) or 0)


async def store_pipeline(session: AsyncSession, pipeline: Pipeline, by: str) -> int:
    result = await session.execute(plain_insert(pipeline_documents).values(document=pipeline.document(), created_by=by)
                                   .returning(pipeline_documents.c.version))
    return int(result.scalar_one())


class ProjectionRepository:
    """The funnel per lead and per cohort (domain/funnel.py)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_update(self, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        rows = (await self.session.execute(
            select(funnel_leads).where(funnel_leads.c.lead_id.in_(lead_ids)).order_by(funnel_leads.c.lead_id)
            .with_for_update())).mappings()
        return {r["lead_id"]: dict(r) for r in rows}

    async def put(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        await execute_rows(self.session, _PUT_FUNNEL_LEAD, [{c.name: r.get(c.name) for c in funnel_leads.columns}
                                                             for r in rows])

    async def add_to_cohorts(self, deltas: Mapping[CohortKey, Vector]) -> None:
        """Add the deltas to the day's cohorts and to the month's."""
        if not deltas:
            return
        monthly: dict[CohortKey, list[float]] = {}
        for k, v in deltas.items():
            into = monthly.setdefault(replace(k, day=k.day.replace(day=1)), [0.0] * len(v))
            for i, value in enumerate(v):
                into[i] += value
        for period, sums in (("day", deltas), ("month", monthly)):
            rows = [{period: k.day, "source": k.source, "partner_id": k.partner_id, "owner_id": k.owner_id,
                     "team_id": k.team_id, **_measures(v)} for k, v in sorted(sums.items(), key=_key_order)]
            await execute_rows(self.session, _ADD_TO_COHORT[period], rows)


def _put_funnel_lead(stmt: Any) -> Any:
    return stmt.on_conflict_do_update(index_elements=["lead_id"], set_={
        c.name: getattr(stmt.excluded, c.name) for c in funnel_leads.columns if c.name != "lead_id"})


def _add_to_cohort(table: Table, period: str) -> RowsStatement:
    key = [period, "source", "partner_id", "owner_id", "team_id"]

    def on_conflict(stmt: Any) -> Any:
        return stmt.on_conflict_do_update(index_elements=key,
                                          set_={m: getattr(table.c, m) + getattr(stmt.excluded, m) for m in MEASURES})

    return rows_statement(table, (*key, *MEASURES), key, on_conflict)


def _measures(vector: Vector) -> dict[str, Any]:
    """The counts as integers (their columns are; JSON would carry 1.0), the amounts as they are."""
    return {m: (int(v) if m in STEPS else v) for m, v in zip(MEASURES, vector)}


_PUT_FUNNEL_LEAD = rows_statement(funnel_leads, tuple(c.name for c in funnel_leads.columns), ["lead_id"],
                                  _put_funnel_lead)
_ADD_TO_COHORT = {"day": _add_to_cohort(funnel_cohorts, "day"), "month": _add_to_cohort(funnel_months, "month")}


def _key_order(item: tuple[CohortKey, Any]) -> tuple[Any, ...]:
    k = item[0]  # one order for every writer: two batches never deadlock on cohort rows
    return (k.day, k.source, k.partner_id, k.owner_id, k.team_id)


class PlanRepository:
    """What managers load: channel spend per month, and targets per rep and team per month (业绩目标)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put_spend(self, rows: Sequence[Mapping[str, Any]], by: str) -> None:
        for chunk in _chunks(rows):
            stmt = insert(channel_spend).values([{**r, "updated_by": by} for r in chunk])
            await self.session.execute(stmt.on_conflict_do_update(
                index_elements=["month", "source", "partner_id"],
                set_={"amount": stmt.excluded.amount, "currency": stmt.excluded.currency,
                      "updated_by": stmt.excluded.updated_by, "updated_at": func.now()}))

    async def put_targets(self, rows: Sequence[Mapping[str, Any]], by: str) -> None:
        for chunk in _chunks(rows):
            stmt = insert(targets).values([{**r, "updated_by": by} for r in chunk])
            await self.session.execute(stmt.on_conflict_do_update(
                index_elements=["month", "kind", "subject_id"],
                set_={"amount": stmt.excluded.amount, "team_id": stmt.excluded.team_id,
                      "updated_by": stmt.excluded.updated_by, "updated_at": func.now()}))


def _chunks(rows: Sequence[Mapping[str, Any]], size: int = 2000) -> list[Sequence[Mapping[str, Any]]]:
    """Slices a statement's parameters fit in (Postgres takes at most 32767 a statement)."""
    return [rows[i:i + size] for i in range(0, len(rows), size)]
