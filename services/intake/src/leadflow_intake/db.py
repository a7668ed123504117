"""intake's tables (schema `intake`) and its writes: the queries its submission pipeline runs, set-wise,
and the repositories of partners, idempotency keys, imports, customers and the blocklist (the read side
the API answers from is views.py).

Every lookup is index-backed: contact keys and credit codes by unique index, company cores by btree,
one-typo variants by GIN over an array, Latin names by pg_trgm; submissions by (visitor, time).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_intake.domain.matching import CompanyCandidate
from leadflow_shared.normalize import LATIN_PATTERN
from leadflow_intake.domain.model import LeadStatus
from leadflow_shared.db import driver_connection, insert_rows, lock_keys, service_metadata

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
    Column("industry", String(100)),
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
# Everything a batch must know before deciding, in one round trip: who owns its contacts, which customers
# and companies it names, what the blocklist says, and how busy its visitors' IPs and devices have been.
# Rows are (kind, k, id, owner, n, core, region, credit_code, city, industry); the columns a kind does not use are null.
# Each lookup joins the batch's values (`unnest($n) AS q(v) JOIN …`) rather than testing `col = ANY($n)`:
# statements are prepared, and a plan Postgres made once while a table was small (a fresh database taking
# its first import) scans that table and compares every row with every value; joined, a stale plan at
# worst hashes the values, until the next ANALYZE brings the index back. The values come deduplicated.
LOOK_UP_SQL = (
    "SELECT 'contact' AS kind, lc.key AS k, lc.lead_id AS id, NULL::text AS owner, NULL::bigint AS n, "
    "  NULL::text AS core, NULL::text AS region, NULL::text AS credit_code, NULL::text AS city, "
    "  NULL::text AS industry "
    "  FROM unnest($1::text[]) AS q(v) JOIN intake.lead_contacts lc ON lc.key = q.v "
    "UNION ALL SELECT 'code', c.credit_code, c.id, c.owner_id, NULL, NULL, NULL, NULL, NULL, NULL "
    "  FROM unnest($2::text[]) AS q(v) JOIN intake.customers c ON c.credit_code = q.v "
    "UNION ALL SELECT 'core', c.core, c.id, c.owner_id, NULL, NULL, c.region, NULL, NULL, NULL "
    "  FROM unnest($3::text[]) AS q(v) JOIN intake.customers c ON c.core = q.v "
    "UNION ALL SELECT 'customer_contact', cc.key, c.id, c.owner_id, NULL, NULL, NULL, NULL, NULL, NULL "
    "  FROM unnest($1::text[]) AS q(v) JOIN intake.customer_contacts cc ON cc.key = q.v "
    "  JOIN intake.customers c ON c.id = cc.customer_id "
    "UNION ALL SELECT 'company', NULL, c.id, NULL, NULL, c.core, c.region, c.credit_code, c.city, c.industry "
    "  FROM unnest($2::text[]) AS q(v) JOIN intake.companies c ON c.credit_code = q.v "
    "UNION ALL SELECT 'company', NULL, c.id, NULL, NULL, c.core, c.region, c.credit_code, c.city, c.industry "
    "  FROM unnest($3::text[]) AS q(v) JOIN intake.companies c ON c.core = q.v "
    "UNION ALL SELECT 'blocked', kind || ':' || value, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM intake.blocklist "
    "  WHERE kind || ':' || value = ANY($4::text[]) "
    "UNION ALL SELECT 'blocked', 'ip_range:' || host(ip), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
    "  FROM unnest($5::inet[]) AS ip "
    "  WHERE EXISTS (SELECT 1 FROM intake.blocklist WHERE kind = 'ip_range' AND CAST(value AS cidr) >>= ip) "
    "UNION ALL SELECT 'ip_count', host(s.client_ip), NULL, NULL, count(*), NULL, NULL, NULL, NULL, NULL "
    "  FROM unnest($5::inet[]) AS q(v) JOIN intake.submissions s ON s.client_ip = q.v "
    "  WHERE s.client_ip IS NOT NULL AND s.received_at >= $7 GROUP BY s.client_ip "
    "UNION ALL SELECT 'device_count', s.device_id, NULL, NULL, count(*), NULL, NULL, NULL, NULL, NULL "
    "  FROM unnest($6::text[]) AS q(v) JOIN intake.submissions s ON s.device_id = q.v "
    "  WHERE s.device_id IS NOT NULL AND s.received_at >= $7 GROUP BY s.device_id"
)
LEADS_FOR_UPDATE_SQL = (
    "SELECT l.id, l.fields, l.status, l.company_id, l.customer_id, l.account_owner_id, l.owner_id "
    "FROM unnest($1::uuid[]) AS q(v) JOIN intake.leads l ON l.id = q.v FOR UPDATE OF l"
)
# Joins on unnest(): one btree probe per value, whatever the planner thinks of a long list.
TYPO_COMPANIES_SQL = (
    "SELECT DISTINCT c.id, c.core, c.region, c.credit_code, c.city, c.industry FROM unnest($1::text[]) AS q(v) "
    "JOIN intake.company_variants cv ON cv.variant = q.v JOIN intake.companies c ON c.id = cv.company_id"
)
SIMILAR_COMPANIES_SQL = (
    "SELECT q.core AS query, c.id, c.core, c.region, c.credit_code, c.city, c.industry FROM unnest($1::text[]) AS q(core) "
    f"CROSS JOIN LATERAL (SELECT * FROM intake.companies WHERE core ~ '{LATIN_PATTERN}' AND core % q.core "
    "ORDER BY similarity(core, q.core) DESC LIMIT 5) AS c"
)
COMPANIES_SQL = (
    "SELECT c.id, c.core, c.region, c.credit_code, c.city, c.industry FROM unnest($1::text[]) AS q(v) "
    "JOIN intake.companies c ON c.credit_code = q.v "
    "UNION SELECT c.id, c.core, c.region, c.credit_code, c.city, c.industry FROM unnest($2::text[]) AS q(v) "
    "JOIN intake.companies c ON c.core = q.v"
)


CUSTOMERS_BY_CORE_SQL = (
    "SELECT c.core, c.id, c.owner_id, c.region FROM unnest($1::text[]) AS q(v) JOIN intake.customers c ON c.core = q.v"
)


@dataclass(frozen=True)
class CustomerByName:
    """A customer of the customer master, as a company name finds it: one core may be several regions'."""

    id: uuid.UUID
    owner_id: str | None
    region: str | None


@dataclass
class Lookup:
    """What the dedupe base knows of a batch's people, companies and visitors (see LOOK_UP_SQL)."""

    owners: dict[str, uuid.UUID] = field(default_factory=dict)  # contact key → its lead
    customers_by_code: dict[str, tuple[uuid.UUID, str | None]] = field(default_factory=dict)
    customers_by_core: dict[str, list[CustomerByName]] = field(default_factory=dict)
    customers_by_contact: dict[str, tuple[uuid.UUID, str | None]] = field(default_factory=dict)
    companies: dict[uuid.UUID, CompanyCandidate] = field(default_factory=dict)  # sharing a credit code or core
    blocked: set[str] = field(default_factory=set)
    by_ip: dict[str, int] = field(default_factory=dict)  # recent submissions per visitor IP
    by_device: dict[str, int] = field(default_factory=dict)


class IntakeRepository:
    """The queries of the submission pipeline: a batch at a time, a handful of round trips."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        return await (await driver_connection(self.session)).fetch(sql, *args)  # type: ignore[no-any-return]

    async def lock(self, keys: Iterable[str]) -> None:
        """Serialize submissions that could be the same person or company (in hash order: no deadlock)."""
        await lock_keys(self.session, keys)

    async def leads_for_update(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        ids = list(set(ids))
        if not ids:
            return {}
        return {row["id"]: dict(row) for row in await self._fetch(LEADS_FOR_UPDATE_SQL, ids)}

    async def look_up(
        self, keys: Sequence[str], codes: Sequence[str], cores: Sequence[str], domains: Sequence[str],
        ips: Sequence[str], devices: Sequence[str], since: datetime,
    ) -> Lookup:
        """One round trip for the whole batch: see LOOK_UP_SQL."""
        keys = list(set(keys))
        wanted = keys + [f"email_domain:{d}" for d in set(domains)]
        rows = await self._fetch(LOOK_UP_SQL, keys, list(set(codes)), list(set(cores)), wanted, list(set(ips)),
                                 list(set(devices)), since)
        found = Lookup()
        for row in rows:
            kind, key = row["kind"], row["k"]
            if kind == "contact":
                found.owners[key] = row["id"]
            elif kind == "code":
                found.customers_by_code[key] = (row["id"], row["owner"])
            elif kind == "core":
                found.customers_by_core.setdefault(key, []).append(CustomerByName(row["id"], row["owner"], row["region"]))
            elif kind == "customer_contact":
                found.customers_by_contact[key] = (row["id"], row["owner"])
            elif kind == "company":
                found.companies[row["id"]] = _candidate(row)
            elif kind == "ip_count":
                found.by_ip[key] = row["n"]
            elif kind == "device_count":
                found.by_device[key] = row["n"]
            else:
                found.blocked.add(key)
        return found

    async def companies(self, codes: Sequence[str], cores: Sequence[str]) -> list[CompanyCandidate]:
        """The companies with one of these credit codes or cores."""
        rows = await self._fetch(COMPANIES_SQL, list(set(codes)), list(set(cores)))
        return [_candidate(row) for row in rows]

    async def near_companies(
        self, typo_cores: dict[str, Sequence[str]], latin_cores: Sequence[str], known: set[str],
    ) -> tuple[list[CompanyCandidate], dict[str, list[CompanyCandidate]]]:
        """For the cores no company shares (`known` are those some company does): the companies one typo
        away (their deletion variants) and, for Latin cores, the nearest by trigrams."""
        found: dict[uuid.UUID, CompanyCandidate] = {}
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

    async def customers_by_core(self, cores: Iterable[str]) -> dict[str, list[CustomerByName]]:
        """The customers named by these cores (a company a lead was linked to by a typo in its name)."""
        found: dict[str, list[CustomerByName]] = {}
        for row in await self._fetch(CUSTOMERS_BY_CORE_SQL, list(set(cores))):
            found.setdefault(row["core"], []).append(CustomerByName(row["id"], row["owner_id"], row["region"]))
        return found

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

    async def add_batch(self, *, new_companies: list[dict[str, Any]], new_variants: list[dict[str, Any]],
                        new_leads: list[dict[str, Any]], new_contacts: list[dict[str, Any]],
                        new_submissions: list[dict[str, Any]], outbox: tuple[Table, list[dict[str, Any]]]) -> None:
        """A batch's new rows and its events, in one statement. Plain inserts are safe: the batch holds the
        locks of every key it creates, so none can exist yet."""
        await insert_rows(self.session, [
            (companies, new_companies), (company_variants, new_variants), (leads, new_leads),
            (lead_contacts, new_contacts), (submissions, new_submissions), outbox,
        ])

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
    return CompanyCandidate(row["id"], row["core"], row["region"], row["credit_code"], row["city"], row["industry"])


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



class IdempotencyRepository:
    """Partners' Idempotency-Keys and the answers given to them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, partner_id: str, key: str, request_hash: str) -> dict[str, Any] | None:
        """Claim the key in this transaction; the earlier row when it was used before. A concurrent
        request with the same key waits on the insert until the first commits."""
        claimed = await self.session.execute(
            insert(idempotency_keys).values(partner_id=partner_id, key=key, request_hash=request_hash)
            .on_conflict_do_nothing().returning(idempotency_keys.c.key)
        )
        if claimed.first() is not None:
            return None
        row = (await self.session.execute(select(idempotency_keys).where(
            idempotency_keys.c.partner_id == partner_id, idempotency_keys.c.key == key))).mappings().one()
        return dict(row)

    async def remember(self, partner_id: str, key: str, status: int, response: Any) -> None:
        await self.session.execute(update(idempotency_keys).where(
            idempotency_keys.c.partner_id == partner_id, idempotency_keys.c.key == key,
        ).values(status_code=status, response=response))


class ImportRepository:
    """Bulk imports: the file, where processing stands, and the counts so far."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, partner_id: str, filename: str, content: bytes, mapping: dict[str, str],
                  total: int) -> uuid.UUID:
        import_id = uuid.uuid4()
        await self.session.execute(imports.insert().values(
            id=import_id, partner_id=partner_id, filename=filename, content=content, mapping=mapping,
            status="queued", total=total))
        return import_id

    async def next_unfinished(self) -> dict[str, Any] | None:
        """The oldest unfinished import, locked (another worker skips it)."""
        i = imports.c
        row = (await self.session.execute(
            select(i.id, i.partner_id, i.filename, i.content, i.mapping, i.processed, i.total, i.rejected_rows)
            .where(i.status.in_(("queued", "running"))).order_by(i.created_at).limit(1)
            .with_for_update(skip_locked=True))).mappings().first()
        return dict(row) if row else None

    async def fail(self, import_id: uuid.UUID, error: str) -> None:
        await self.session.execute(update(imports).where(imports.c.id == import_id).values(
            status="failed", error=error, updated_at=func.now()))

    async def record_chunk(self, import_id: uuid.UUID, *, processed: int, total: int, outcomes: list[str],
                           rejected_rows: list[dict[str, Any]], new_rejected: int, done: bool) -> None:
        """A chunk's counts added to the import's, with where to resume."""
        i = imports.c
        await self.session.execute(update(imports).where(i.id == import_id).values(
            processed=processed, total=total,
            created=i.created + outcomes.count("created"), merged=i.merged + outcomes.count("merged"),
            flagged=i.flagged + outcomes.count("flagged"), rejected=i.rejected + new_rejected,
            rejected_rows=rejected_rows, status="done" if done else "running", updated_at=func.now()))


class CustomerRepository:
    """The customer master intake links new leads to (from customers.v1)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, customer_id: uuid.UUID, values: dict[str, Any], contact_keys: Sequence[str]) -> None:
        """The customer as now known, with exactly these contacts."""
        await self.session.execute(insert(customers).values(id=customer_id, **values)
                                   .on_conflict_do_update(index_elements=["id"], set_=values))
        await self.session.execute(delete(customer_contacts).where(customer_contacts.c.customer_id == customer_id))
        if contact_keys:
            await self.session.execute(insert(customer_contacts).values(
                [{"key": k, "customer_id": customer_id} for k in contact_keys]).on_conflict_do_nothing())


class BlocklistRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, kind: str, value: str, note: str | None) -> None:
        await self.session.execute(insert(blocklist).values(kind=kind, value=value, note=note).on_conflict_do_nothing())

    async def remove(self, kind: str, value: str) -> None:
        await self.session.execute(delete(blocklist).where(blocklist.c.kind == kind, blocklist.c.value == value))

    async def all(self) -> list[dict[str, Any]]:
        rows = await self.session.execute(select(blocklist).order_by(blocklist.c.kind, blocklist.c.value))
        return [dict(r) for r in rows.mappings()]
