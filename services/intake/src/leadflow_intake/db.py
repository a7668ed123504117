"""intake's tables (schema `intake`) and the queries its submission pipeline runs, set-wise.

Every lookup is index-backed: contact keys and credit codes by unique index, company cores by btree,
one-typo variants by GIN over an array, Latin names by pg_trgm; submissions by (visitor, time).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (

    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_intake.domain.matching import CompanyCandidate
from leadflow_shared.normalize import LATIN_PATTERN
from leadflow_intake.domain.model import LeadStatus
from leadflow_shared.db import driver_connection, lock_keys, service_metadata

metadata = service_metadata("intake")

partners = Table(
    "partners", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_prefix", String(16), nullable=False),
    Column("rate_per_s", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
)

leads = Table(
    "leads", metadata,
    Column("id", Uuid, primary_key=True),
    Column("fields", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("company_id", Uuid),
    Column("customer_id", Uuid),
    Column("account_owner_id", String(100)),
    Column("owner_id", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_leads_company_id", "company_id"),
)

lead_contacts = Table(
    "lead_contacts", metadata,
    Column("key", String(300), primary_key=True),  # mobile:+86…, wechat:…, email:…
    Column("lead_id", Uuid, nullable=False, index=True),
)

companies = Table(
    "companies", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("core", String(300), nullable=False),
    Column("region", String(50)),
    Column("city", String(100)),
    Column("credit_code", String(18), unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_companies_core", "core"),
    # Trigrams for Latin names only: a GIN trigram index also answers `core = …`, and the planner would
    # take it over the btree for exact lookups, at a thousand times the cost.
    Index("ix_companies_latin_core_trgm", "core", postgresql_using="gin", postgresql_ops={"core": "gin_trgm_ops"},
          postgresql_where=text(f"core ~ '{LATIN_PATTERN}'")),
)

# A company's core with one character left out, each: names one typo apart share a row (SymSpell).
company_variants = Table(
    "company_variants", metadata,
    Column("variant", String(300), nullable=False),
    Column("company_id", Uuid, nullable=False),
    PrimaryKeyConstraint("variant", "company_id"),
)

submissions = Table(
    "submissions", metadata,
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False, index=True),
    Column("partner_id", String(40)),
    Column("outcome", String(20), nullable=False),
    Column("duplicate_of", Uuid),
    Column("risk_reasons", ARRAY(Text), nullable=False, server_default="{}"),
    Column("fields", JSONB, nullable=False),
    Column("client_ip", INET),
    Column("device_id", String(200)),
    Column("import_id", Uuid),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_submissions_partner_time", "partner_id", "received_at"),
    Index("ix_submissions_ip_time", "client_ip", "received_at", postgresql_where=text("client_ip IS NOT NULL")),
    Index("ix_submissions_device_time", "device_id", "received_at", postgresql_where=text("device_id IS NOT NULL")),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("partner_id", String(40), nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("partner_id", "key"),
)

imports = Table(
    "imports", metadata,
    Column("id", Uuid, primary_key=True),
    Column("partner_id", String(40), nullable=False),
    Column("filename", String(300), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("mapping", JSONB, nullable=False),
    Column("status", String(20), nullable=False),  # queued, running, done, failed
    Column("total", Integer),
    Column("processed", Integer, nullable=False, server_default="0"),
    Column("created", Integer, nullable=False, server_default="0"),
    Column("merged", Integer, nullable=False, server_default="0"),
    Column("flagged", Integer, nullable=False, server_default="0"),
    Column("rejected", Integer, nullable=False, server_default="0"),
    Column("rejected_rows", JSONB, nullable=False, server_default="[]"),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_imports_unfinished", "created_at", postgresql_where=text("status IN ('queued', 'running')")),
)

blocklist = Table(
    "blocklist", metadata,
    Column("kind", String(20), nullable=False),  # mobile, wechat, email, email_domain, ip_range
    Column("value", String(300), nullable=False),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("kind", "value"),
)

customers = Table(
    "customers", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("core", String(300)),
    Column("region", String(50)),
    Column("credit_code", String(18), index=True),
    Column("owner_id", String(100)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_customers_core", "core"),
)

customer_contacts = Table(
    "customer_contacts", metadata,
    Column("key", String(300), primary_key=True),
    Column("customer_id", Uuid, nullable=False),
)


# The submission pipeline's statements go to asyncpg directly (see shared `driver_connection`).
SCREEN_SQL = (
    "SELECT 'contact' AS kind, key AS k, lead_id AS id, NULL AS owner FROM intake.lead_contacts "
    "  WHERE key = ANY($1::text[]) "
    "UNION ALL SELECT 'code', credit_code, id, owner_id FROM intake.customers WHERE credit_code = ANY($2::text[]) "
    "UNION ALL SELECT 'core', core, id, owner_id FROM intake.customers WHERE core = ANY($3::text[]) "
    "UNION ALL SELECT 'customer_contact', cc.key, c.id, c.owner_id FROM intake.customer_contacts cc "
    "  JOIN intake.customers c ON c.id = cc.customer_id WHERE cc.key = ANY($1::text[]) "
    "UNION ALL SELECT 'blocked', kind || ':' || value, NULL, NULL FROM intake.blocklist "
    "  WHERE kind || ':' || value = ANY($4::text[]) "
    "UNION ALL SELECT 'blocked', 'ip_range:' || host(ip), NULL, NULL FROM unnest($5::inet[]) AS ip "
    "  WHERE EXISTS (SELECT 1 FROM intake.blocklist WHERE kind = 'ip_range' AND CAST(value AS cidr) >>= ip)"
)
CONTACT_OWNERS_SQL = "SELECT key, lead_id FROM intake.lead_contacts WHERE key = ANY($1::text[])"
LEADS_FOR_UPDATE_SQL = (
    "SELECT id, fields, status, company_id, customer_id, account_owner_id, owner_id "
    "FROM intake.leads WHERE id = ANY($1::uuid[]) FOR UPDATE"
)
# Joins on unnest(): one btree probe per value, whatever the planner thinks of a long list.
EXACT_COMPANIES_SQL = (
    "SELECT c.id, c.core, c.region, c.credit_code, c.city FROM unnest($1::text[]) AS q(v) "
    "  JOIN intake.companies c ON c.credit_code = q.v "
    "UNION SELECT c.id, c.core, c.region, c.credit_code, c.city FROM unnest($2::text[]) AS q(v) "
    "  JOIN intake.companies c ON c.core = q.v"
)
TYPO_COMPANIES_SQL = (
    "SELECT DISTINCT c.id, c.core, c.region, c.credit_code, c.city FROM unnest($1::text[]) AS q(v) "
    "JOIN intake.company_variants cv ON cv.variant = q.v JOIN intake.companies c ON c.id = cv.company_id"
)
SIMILAR_COMPANIES_SQL = (
    "SELECT q.core AS query, c.id, c.core, c.region, c.credit_code, c.city FROM unnest($1::text[]) AS q(core) "
    f"CROSS JOIN LATERAL (SELECT * FROM intake.companies WHERE core ~ '{LATIN_PATTERN}' AND core % q.core "
    "ORDER BY similarity(core, q.core) DESC LIMIT 5) AS c"
)
RECENT_COUNTS_SQL = {
    column: f"SELECT {shown} AS value, count(*) AS n FROM intake.submissions "
            f"WHERE {column} = ANY($1::{kind}[]) AND received_at >= $2 GROUP BY {column}"
    for column, kind, shown in (("client_ip", "inet", "host(client_ip)"), ("device_id", "text", "device_id"))
}


class IntakeRepository:
    """The queries of the submission pipeline: a batch at a time, a handful of round trips."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        return await (await driver_connection(self.session)).fetch(sql, *args)  # type: ignore[no-any-return]

    async def lock(self, keys: Iterable[str]) -> None:
        """Serialize submissions that could be the same person or company (in hash order: no deadlock)."""
        await lock_keys(self.session, keys)

    async def contact_owners(self, keys: Sequence[str]) -> dict[str, uuid.UUID]:
        if not keys:
            return {}
        return {row["key"]: row["lead_id"] for row in await self._fetch(CONTACT_OWNERS_SQL, list(set(keys)))}

    async def leads_for_update(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        ids = list(set(ids))
        if not ids:
            return {}
        return {row["id"]: dict(row) for row in await self._fetch(LEADS_FOR_UPDATE_SQL, ids)}

    async def company_candidates(
        self, credit_codes: Sequence[str], cores: Sequence[str], typo_cores: dict[str, Sequence[str]],
        latin_cores: Sequence[str],
    ) -> tuple[list[CompanyCandidate], dict[str, list[CompanyCandidate]]]:
        """Companies sharing a credit code or a core; for cores nothing shares, the companies one typo
        away (their deletion variants) and, for Latin cores, the nearest by trigrams."""
        found: dict[uuid.UUID, CompanyCandidate] = {}
        for row in await self._fetch(EXACT_COMPANIES_SQL, list(set(credit_codes)), list(set(cores))):
            found[row["id"]] = _candidate(row)
        known = {c.core for c in found.values()}
        variants = {v for core, vs in typo_cores.items() if core not in known for v in vs}
        if variants:
            for row in await self._fetch(TYPO_COMPANIES_SQL, list(variants)):
                found[row["id"]] = _candidate(row)
        similar: dict[str, list[CompanyCandidate]] = {}
        unmatched_latin = list({core for core in latin_cores if core not in known})
        if unmatched_latin:
            for row in await self._fetch(SIMILAR_COMPANIES_SQL, unmatched_latin):
                similar.setdefault(row["query"], []).append(_candidate(row))
        return list(found.values()), similar

    async def screen(
        self, keys: Sequence[str], codes: Sequence[str], cores: Sequence[str], domains: Sequence[str],
        ips: Sequence[str],
    ) -> tuple[dict[str, uuid.UUID], dict[str, tuple[uuid.UUID, str | None]], dict[str, tuple[uuid.UUID, str | None]],
               dict[str, tuple[uuid.UUID, str | None]], set[str]]:
        """One round trip for the batch's people: who owns its contacts, which customers it names,
        what the blocklist says. Returns (contact owners, customers by code, by core, by contact, blocked)."""
        keys = list(set(keys))
        wanted = keys + [f"email_domain:{d}" for d in set(domains)]
        rows = await self._fetch(SCREEN_SQL, keys, list(set(codes)), list(set(cores)), wanted, list(set(ips)))
        owners: dict[str, uuid.UUID] = {}
        by_code: dict[str, tuple[uuid.UUID, str | None]] = {}
        by_core: dict[str, tuple[uuid.UUID, str | None]] = {}
        by_contact: dict[str, tuple[uuid.UUID, str | None]] = {}
        blocked: set[str] = set()
        for kind, key, found_id, owner in rows:
            if kind == "contact":
                owners[key] = found_id
            elif kind == "code":
                by_code[key] = (found_id, owner)
            elif kind == "core":
                by_core.setdefault(key, (found_id, owner))
            elif kind == "customer_contact":
                by_contact[key] = (found_id, owner)
            else:
                blocked.add(key)
        return owners, by_code, by_core, by_contact, blocked

    async def recent_counts(self, column: str, values: Sequence[str], since: datetime) -> dict[str, int]:
        if not values:
            return {}
        rows = await self._fetch(RECENT_COUNTS_SQL[column], list(set(values)), since)
        return {row["value"]: row["n"] for row in rows}

    async def update_leads(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        await self.session.execute(
            update(leads).where(leads.c.id == bindparam("lead_id")).values(
                fields=bindparam("fields"), status=bindparam("status"), company_id=bindparam("company_id"),
                customer_id=bindparam("customer_id"), account_owner_id=bindparam("account_owner_id"),
                updated_at=func.now()),
            [{**{k: v for k, v in row.items() if k != "id"}, "lead_id": row["id"]} for row in rows],
        )

    # ---- status, as the other services report it --------------------------------------------

    async def status_for_update(self, lead_id: uuid.UUID) -> LeadStatus | None:
        status = await self.session.scalar(select(leads.c.status).where(leads.c.id == lead_id).with_for_update())
        return LeadStatus(status) if status else None

    async def set_status(self, lead_id: uuid.UUID, status: LeadStatus, **values: Any) -> None:
        await self.session.execute(
            update(leads).where(leads.c.id == lead_id).values(status=status, updated_at=func.now(), **values)
        )

    async def set_owner(self, lead_id: uuid.UUID, owner_id: str | None) -> None:
        await self.session.execute(update(leads).where(leads.c.id == lead_id).values(owner_id=owner_id))


def _candidate(row: Any) -> CompanyCandidate:
    return CompanyCandidate(row["id"], row["core"], row["region"], row["credit_code"], row["city"])


class PartnerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_key_hash(self, key_hash: str) -> dict[str, Any] | None:
        row = (await self.session.execute(select(partners).where(partners.c.key_hash == key_hash))).mappings().first()
        return dict(row) if row else None

    async def add(self, partner_id: str, name: str, key_hash: str, key_prefix: str, rate_per_s: float) -> None:
        await self.session.execute(partners.insert().values(id=partner_id, name=name, key_hash=key_hash,
                                                            key_prefix=key_prefix, rate_per_s=rate_per_s))

    async def all(self) -> list[dict[str, Any]]:
        rows = (await self.session.execute(select(partners).order_by(partners.c.created_at))).mappings()
        return [dict(r) for r in rows]

    async def revoke(self, partner_id: str) -> bool:
        result = await self.session.execute(
            update(partners).where(partners.c.id == partner_id, partners.c.revoked_at.is_(None))
            .values(revoked_at=func.now()).returning(partners.c.id)
        )
        return result.first() is not None

