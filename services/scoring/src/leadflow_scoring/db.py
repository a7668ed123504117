"""scoring's tables (schema `scoring`) and its writes: the repositories its consumers and jobs use (the read
side the API answers from is views.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
    delete,
    func,
    select,
    tuple_,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_shared.db import driver_connection, insert_rows, json_rows, service_metadata

metadata = service_metadata("scoring")

# A lead as scoring knows it: its snapshot (filled in by enrichment), behaviour state and current score.
leads = Table(
    "leads", metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("lead", JSONB, nullable=False),
    Column("enrichment", JSONB),  # {source, matched_by, registry_id, filled: [...]}
    Column("company_id", Uuid),
    Column("customer_id", Uuid),
    Column("behaviour", JSONB),  # the domain's per-lead behaviour state (see domain/scoring.py)
    Column("activity_counts", JSONB, nullable=False, server_default="{}"),  # by type, for the predictive model
    Column("last_activity_at", DateTime(timezone=True)),
    Column("score", Float, nullable=False),
    Column("grade", String(2), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("probability", Float),
    Column("explanation", JSONB, nullable=False),
    Column("rules_version", String(50), nullable=False),
    Column("model_version", String(100)),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("scored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # An SDR's verdict after cleansing (线索清洗): {disposition, by, reason, at, points}; see domain/verdicts.py.
    Column("disposition", JSONB),
    Index("ix_leads_rescore", "scored_at", postgresql_where=text("stage <> 'disqualified'")),
)

# 赢单/输单: how each lead ended (opportunities.closed.v1), the label the predictive model learns from.
# Its own table: an outcome may arrive before scoring has seen the lead.
lead_outcomes = Table(
    "lead_outcomes", metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("outcome", String(10), nullable=False),  # won | lost
    Column("closed_at", DateTime(timezone=True), nullable=False),
)

# The contacts a lead is known by, so an activity that names only a phone or e-mail finds its lead.
lead_contacts = Table(
    "lead_contacts", metadata,
    Column("key", String(300), primary_key=True),  # mobile:+86…, wechat:…, email:…
    Column("lead_id", Uuid, nullable=False),
)

activities = Table(
    "activities", metadata,
    Column("activity_id", Uuid, primary_key=True),
    Column("lead_id", Uuid),
    Column("contact_keys", ARRAY(Text), nullable=False, server_default="{}"),
    Column("type", String(60), nullable=False),
    Column("url", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("attributes", JSONB, nullable=False, server_default="{}"),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("applied_at", DateTime(timezone=True)),  # NULL: its lead has not arrived yet
    Index("ix_activities_lead", "lead_id", "occurred_at"),
    # Neither can serve a look-up of the other kind, however few waiting activities the statistics expect
    # (see PENDING_SQL); without fast update, since every search reads the GIN pending list whole.
    Index("ix_activities_pending_lead", "lead_id",
          postgresql_where=text("applied_at IS NULL AND lead_id IS NOT NULL")),
    Index("ix_activities_pending_contacts", "contact_keys", postgresql_using="gin",
          postgresql_where=text("applied_at IS NULL"), postgresql_with={"fastupdate": "off"}),
    # Waiting activities by age, for their expiry (a visitor who never becomes a lead).
    Index("ix_activities_waiting_since", "received_at", postgresql_where=text("applied_at IS NULL")),
)

# 客商系统: the company registry enrichment reads (a provider; this table is the built-in one).
registry_companies = Table(
    "registry_companies", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("credit_code", String(18), unique=True),
    Column("name", String(300), nullable=False),
    Column("canonical", String(300), nullable=False, index=True),
    Column("industry", String(100)),
    Column("size", String(50)),
    Column("employees", Integer),
    Column("registered_capital", Float),  # CNY ("1000万元" is 10,000,000)
    Column("province", String(50)),
    Column("city", String(100)),
    Column("founded", Date),
    Column("status", String(30)),
    Column("source", String(100), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

rule_sets = Table(
    "rule_sets", metadata,
    Column("version", String(50), primary_key=True),
    Column("yaml", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default="false"),
    Column("created_by", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ux_rule_sets_active", "active", unique=True, postgresql_where=text("active")),
)

models = Table(
    "models", metadata,
    Column("version", String(100), primary_key=True),
    Column("artifact", LargeBinary, nullable=False),  # the model directory, as a tar.gz
    Column("info", JSONB, nullable=False),
    Column("active", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ux_models_active", "active", unique=True, postgresql_where=text("active")),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # partner: may post activities (older staff keys: refused)
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
)

# Rows travel as one JSON document (shared.db.json_rows): far cheaper than an array per column, whose every
# element asyncpg checks against abstract base classes in Python. JSON columns are nested JSON (null is NULL).
UPSERT_FIELDS = ["lead_id", "lead", "enrichment", "company_id", "customer_id", "behaviour", "activity_counts",
                 "last_activity_at", "score", "grade", "stage", "probability", "explanation", "rules_version",
                 "model_version", "scored_at", "disposition"]
UPSERT_LEADS_SQL = (
    "INSERT INTO scoring.leads (lead_id, lead, enrichment, company_id, customer_id, behaviour, activity_counts, "
    "  last_activity_at, score, grade, stage, probability, explanation, rules_version, model_version, scored_at, disposition) "
    "SELECT (r->>0)::uuid, NULLIF(r->1, 'null'), NULLIF(r->2, 'null'), (r->>3)::uuid, (r->>4)::uuid, "
    "  NULLIF(r->5, 'null'), NULLIF(r->6, 'null'), "
    "  (r->>7)::timestamptz, (r->>8)::float8, r->>9, r->>10, (r->>11)::float8, NULLIF(r->12, 'null'), "
    "  r->>13, r->>14, (r->>15)::timestamptz, NULLIF(r->16, 'null') "
    "FROM jsonb_array_elements($1::text::jsonb) AS r "
    "ON CONFLICT (lead_id) DO UPDATE SET lead = excluded.lead, enrichment = excluded.enrichment, "
    "  company_id = excluded.company_id, customer_id = excluded.customer_id, behaviour = excluded.behaviour, "
    "  activity_counts = excluded.activity_counts, last_activity_at = excluded.last_activity_at, "
    "  score = excluded.score, grade = excluded.grade, stage = excluded.stage, probability = excluded.probability, "
    "  explanation = excluded.explanation, rules_version = excluded.rules_version, "
    "  model_version = excluded.model_version, scored_at = excluded.scored_at, disposition = excluded.disposition"
)
# A lead whose fields did not change this batch (an activity, a re-score) gets only its score written: its
# snapshot and enrichment, the largest JSON of the row, are neither serialized again nor rewritten.
SCORE_FIELDS = ["lead_id", "behaviour", "activity_counts", "last_activity_at", "score", "grade", "stage", "probability",
                "explanation", "rules_version", "model_version", "scored_at"]
UPDATE_SCORES_SQL = (
    "UPDATE scoring.leads AS l SET behaviour = NULLIF(r->1, 'null'), activity_counts = NULLIF(r->2, 'null'), "
    "  last_activity_at = (r->>3)::timestamptz, score = (r->>4)::float8, grade = r->>5, stage = r->>6, "
    "  probability = (r->>7)::float8, explanation = NULLIF(r->8, 'null'), rules_version = r->>9, "
    "  model_version = r->>10, scored_at = (r->>11)::timestamptz "
    "FROM jsonb_array_elements($1::text::jsonb) AS r "
    "WHERE l.lead_id = (r->>0)::uuid"
)
# A batch's lookups join the table to its keys (`unnest($1) JOIN …`), never `col = ANY($1)`. asyncpg's
# statements are prepared, so Postgres soon plans them once for any keys; a plan made while the table was
# small scans it, and `= ANY($1)` then compares every row with every key: in the bench, 104 ms a lookup of
# 750 keys in 34,000 contacts, and over a second at its worst. Joined, a stale plan hashes the keys (a few
# ms at that size) until the next ANALYZE brings the index back.

# What scoring reads of a lead to score it again (its last explanation is rebuilt, never read back).
FOR_UPDATE_SQL = (
    "SELECT l.lead_id, l.lead, l.enrichment, l.company_id, l.customer_id, l.behaviour, l.activity_counts, "
    "  l.last_activity_at, l.score, l.grade, l.stage, l.probability, l.rules_version, l.model_version, l.scored_at, "
    "  l.disposition "
    "FROM unnest($1::uuid[]) AS k(id) JOIN scoring.leads l ON l.lead_id = k.id ORDER BY l.lead_id FOR UPDATE OF l"
)
OWNERS_SQL = ("SELECT c.key, c.lead_id FROM unnest($1::text[]) AS k(key) "
              "JOIN scoring.lead_contacts c ON c.key = k.key")
KNOWN_SQL = "SELECT l.lead_id FROM unnest($1::uuid[]) AS k(id) JOIN scoring.leads l ON l.lead_id = k.id"
# Waiting activities (the partial indexes hold only them), found by one index probe per lead id and per
# contact key, each locking what it finds, whatever the statistics say. Written as `lead_id IN (…) OR
# contact_keys && $2`, or planned while the table was young, the look-up read every waiting activity and
# compared it with each of the batch's keys (0.7 s with 22,000 waiting; 26 s as probes that chose the lead
# index for contacts, hence that index's `lead_id IS NOT NULL`). 12–22 ms instead.
_WAITING_COLUMNS = "activity_id, lead_id, contact_keys, type, url, occurred_at, attributes"
PENDING_SQL = (
    f"SELECT w.* FROM unnest($1::uuid[]) AS k(id) CROSS JOIN LATERAL (SELECT {_WAITING_COLUMNS} "
    "  FROM scoring.activities WHERE lead_id = k.id AND applied_at IS NULL FOR UPDATE) AS w "
    f"UNION ALL SELECT w.* FROM unnest($2::text[]) AS k(key) CROSS JOIN LATERAL (SELECT {_WAITING_COLUMNS} "
    "  FROM scoring.activities WHERE contact_keys @> ARRAY[k.key] AND applied_at IS NULL FOR UPDATE) AS w"
)
# An activity whose lead is known is stored as applied to it (lead_id = its target, applied_at = $2): never
# updated afterwards, so it never enters the partial indexes of waiting activities.
ACTIVITY_FIELDS = ["activity_id", "lead_id", "contact_keys", "type", "url", "occurred_at", "attributes", "target"]
ADD_ACTIVITIES_SQL = (
    "INSERT INTO scoring.activities (activity_id, lead_id, contact_keys, type, url, occurred_at, attributes, "
    "  applied_at) "
    "SELECT (r->>0)::uuid, coalesce((r->>7)::uuid, (r->>1)::uuid), ARRAY(SELECT jsonb_array_elements_text(r->2)), "
    "  r->>3, r->>4, (r->>5)::timestamptz, r->6, CASE WHEN r->>7 IS NOT NULL THEN $2::timestamptz END "
    "FROM jsonb_array_elements($1::text::jsonb) AS r "
    "ON CONFLICT (activity_id) DO NOTHING RETURNING activity_id"
)


class LeadRepository:
    """The leads scoring keeps, a batch at a time (statements go to asyncpg directly: the hot path)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        return await (await driver_connection(self.session)).fetch(sql, *args)  # type: ignore[no-any-return]

    async def for_update(self, lead_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        ids = list(set(lead_ids))
        if not ids:
            return {}
        rows = await self._fetch(FOR_UPDATE_SQL, ids)
        return {row["lead_id"]: dict(row) for row in rows}

    async def save(self, rows: Sequence[dict[str, Any]], *, changed: set[uuid.UUID] | frozenset[uuid.UUID] = frozenset()
                   ) -> None:
        """Write scored lead rows: whole for new leads and those whose fields `changed`, else just their score
        (a statement each kind)."""
        whole = [row for row in rows if row["lead_id"] in changed]
        scored = [row for row in rows if row["lead_id"] not in changed]
        connection = await driver_connection(self.session)
        if whole:
            await connection.execute(UPSERT_LEADS_SQL, json_rows(whole, UPSERT_FIELDS))
        if scored:
            await connection.execute(UPDATE_SCORES_SQL, json_rows(scored, SCORE_FIELDS))

    async def owners_of(self, keys: Sequence[str]) -> dict[str, uuid.UUID]:
        if not keys:
            return {}
        rows = await self._fetch(OWNERS_SQL, list(set(keys)))
        return {row["key"]: row["lead_id"] for row in rows}

    async def known(self, lead_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not lead_ids:
            return set()
        rows = await self._fetch(KNOWN_SQL, list(set(lead_ids)))
        return {row["lead_id"] for row in rows}

    async def add_contacts(self, pairs: Sequence[tuple[str, uuid.UUID]]) -> None:
        """First lead to claim a contact keeps it (intake has already merged the same person)."""
        if pairs:
            await (await driver_connection(self.session)).execute(
                "INSERT INTO scoring.lead_contacts (key, lead_id) SELECT * FROM unnest($1::text[], $2::uuid[]) "
                "ON CONFLICT (key) DO NOTHING", [k for k, _ in pairs], [i for _, i in pairs])

    async def set_outcomes(self, outcomes: Sequence[tuple[uuid.UUID, str, datetime]]) -> None:
        """The latest close of each lead wins (a lost deal reopened and won is won)."""
        if outcomes:
            await (await driver_connection(self.session)).execute(
                "INSERT INTO scoring.lead_outcomes (lead_id, outcome, closed_at) "
                "SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) "
                "ON CONFLICT (lead_id) DO UPDATE SET outcome = excluded.outcome, closed_at = excluded.closed_at "
                "WHERE excluded.closed_at >= scoring.lead_outcomes.closed_at",
                [o[0] for o in outcomes], [o[1] for o in outcomes], [o[2] for o in outcomes])

    async def due_for_rescore(self, before: datetime, rules_version: str, started: datetime, limit: int
                              ) -> list[uuid.UUID]:
        """Leads whose behaviour has had time to decay, or scored under other rules before this round
        began (disqualified ones too: new rules may take the disqualifier away); oldest first. Leads
        another replica is re-scoring right now are skipped."""
        rows = await self._fetch(
            "SELECT lead_id FROM scoring.leads WHERE ((stage <> 'disqualified' AND scored_at < $1) "
            "OR (rules_version <> $2 AND scored_at < $3)) ORDER BY scored_at LIMIT $4 FOR UPDATE SKIP LOCKED",
            before, rules_version, started, limit)
        return [row["lead_id"] for row in rows]

    async def histories(self, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
        """Every activity counted for these leads, oldest first (to rebuild a state under new rules)."""
        rows = await self._fetch(
            "SELECT a.lead_id, a.type, a.url, a.occurred_at, a.attributes FROM unnest($1::uuid[]) AS k(id) "
            "JOIN scoring.activities a ON a.lead_id = k.id WHERE a.applied_at IS NOT NULL ORDER BY a.occurred_at",
            list(set(lead_ids)))
        found: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for row in rows:
            found.setdefault(row["lead_id"], []).append(dict(row))
        return found


class ActivityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def expire_waiting(self, received_before: datetime, limit: int) -> tuple[int, int]:
        """Delete the oldest `limit` activities still waiting for a lead that were received before the
        given time; returns (found, deleted). One applied meanwhile (its row locked by a consumer) is kept:
        the DELETE checks again, on the row it finally gets, that the activity is still waiting."""
        row = await (await driver_connection(self.session)).fetchrow(
            "WITH found AS (SELECT activity_id FROM scoring.activities WHERE applied_at IS NULL AND received_at < $1 "
            "  ORDER BY received_at LIMIT $2), "
            "gone AS (DELETE FROM scoring.activities a USING found f WHERE a.activity_id = f.activity_id "
            "  AND a.applied_at IS NULL AND a.received_at < $1 RETURNING 1) "
            "SELECT (SELECT count(*) FROM found) AS found, (SELECT count(*) FROM gone) AS deleted",
            received_before, limit)
        return row["found"], row["deleted"]

    async def add_new(self, rows: Sequence[dict[str, Any]], *, applied_at: datetime) -> set[uuid.UUID]:
        """Store activities not seen before (by activity_id), those with a `target` lead as applied to it
        at `applied_at`; returns the ids that were new."""
        if not rows:
            return set()
        conn = await driver_connection(self.session)
        fresh = await conn.fetch(ADD_ACTIVITIES_SQL, json_rows(rows, ACTIVITY_FIELDS), applied_at)
        return {row["activity_id"] for row in fresh}

    async def mark_applied(self, applied: Sequence[tuple[uuid.UUID, uuid.UUID]], at: datetime) -> None:
        """(activity_id, lead_id) pairs now counted in their lead's score."""
        if applied:
            await (await driver_connection(self.session)).execute(
                "UPDATE scoring.activities a SET lead_id = u.lead_id, applied_at = $3 "
                "FROM unnest($1::uuid[], $2::uuid[]) AS u(id, lead_id) WHERE a.activity_id = u.id",
                [a for a, _ in applied], [lead for _, lead in applied], at)

    async def pending_for(self, lead_ids: Sequence[uuid.UUID], keys: Sequence[str]) -> list[dict[str, Any]]:
        """Activities that arrived before their lead and name one of these leads or contacts."""
        if not lead_ids and not keys:
            return []
        conn = await driver_connection(self.session)
        rows = await conn.fetch(PENDING_SQL, list(set(lead_ids)), list(set(keys)))
        found = {row["activity_id"]: dict(row) for row in rows}  # one found by its lead and a contact: once
        return sorted(found.values(), key=lambda a: (a["occurred_at"], a["activity_id"]))


class RegistryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def load(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add or replace companies (by credit code when there is one)."""
        with_code = [r for r in rows if r.get("credit_code")]
        without = [r for r in rows if not r.get("credit_code")]
        if with_code:
            statement = insert(registry_companies)
            await self.session.execute(statement.on_conflict_do_update(
                index_elements=["credit_code"],
                set_={c: statement.excluded[c] for c in with_code[0] if c != "credit_code"} | {"loaded_at": func.now()},
            ), with_code)
        if without:  # no key: a company loaded again from the same source replaces its earlier row
            await self.session.execute(delete(registry_companies).where(
                registry_companies.c.credit_code.is_(None),
                tuple_(registry_companies.c.canonical, registry_companies.c.source).in_(
                    [(r["canonical"], r["source"]) for r in without])))
        await insert_rows(self.session, [(registry_companies, without)])

    async def find(self, codes: Sequence[str], canonicals: Sequence[str]) -> list[dict[str, Any]]:
        if not codes and not canonicals:
            return []
        conn = await driver_connection(self.session)
        rows = await conn.fetch(
            "SELECT r.* FROM unnest($1::text[]) AS k(v) JOIN scoring.registry_companies r ON r.credit_code = k.v "
            "UNION SELECT r.* FROM unnest($2::text[]) AS k(v) JOIN scoring.registry_companies r ON r.canonical = k.v",
            list(set(codes)), list(set(canonicals)))
        return [dict(row) for row in rows]

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(registry_companies)) or 0)


async def _activate(session: AsyncSession, table: Table, version: str) -> bool:
    """Make one version the active one (at most one is: a partial unique index); False if unknown."""
    if not await session.scalar(select(func.count()).where(table.c.version == version)):
        return False
    await session.execute(update(table).where(table.c.active).values(active=False))
    await session.execute(update(table).where(table.c.version == version).values(active=True))
    return True


class RuleSetRepository:
    """Rule sets by version; one is active. Every replica's watcher follows the active one."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active(self) -> dict[str, Any] | None:
        row = (await self.session.execute(select(rule_sets).where(rule_sets.c.active))).mappings().first()
        return dict(row) if row else None

    async def active_version(self) -> str | None:
        return await self.session.scalar(select(rule_sets.c.version).where(rule_sets.c.active))

    async def store(self, version: str, yaml_text: str, created_by: str | None) -> bool:
        """Keep a rule set; False when that version exists already with other content."""
        existing = await self.session.scalar(select(rule_sets.c.yaml).where(rule_sets.c.version == version))
        if existing is not None:
            return existing == yaml_text
        await self.session.execute(insert(rule_sets).values(version=version, yaml=yaml_text, created_by=created_by))
        return True

    async def activate(self, version: str) -> bool:
        return await _activate(self.session, rule_sets, version)


class ModelRepository:
    """Predictive models by version (the artifact kept in the database, so every replica can load it)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active_version(self) -> str | None:
        return await self.session.scalar(select(models.c.version).where(models.c.active))

    async def artifact(self, version: str) -> bytes | None:
        return await self.session.scalar(select(models.c.artifact).where(models.c.version == version))

    async def store(self, version: str, artifact: bytes, info: dict[str, Any]) -> None:
        await self.session.execute(insert(models).values(version=version, artifact=artifact, info=info)
                                   .on_conflict_do_nothing(index_elements=["version"]))

    async def activate(self, version: str) -> bool:
        return await _activate(self.session, models, version)

    async def outcome_history(self) -> list[dict[str, Any]]:
        """Leads whose opportunity closed (won or lost), with what was known of them: training data."""
        rows = await self.session.execute(
            select(leads.c.lead_id, leads.c.lead, leads.c.activity_counts, lead_outcomes.c.outcome)
            .join(lead_outcomes, lead_outcomes.c.lead_id == leads.c.lead_id))
        return [dict(r) for r in rows.mappings()]


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_hash(self, key_hash: str) -> dict[str, Any] | None:
        row = (await self.session.execute(select(api_keys).where(api_keys.c.key_hash == key_hash))).mappings().first()
        return dict(row) if row else None

    async def add(self, key_id: str, name: str, role: str, key_hash: str) -> None:
        await self.session.execute(insert(api_keys).values(id=key_id, name=name, role=role, key_hash=key_hash))

    async def revoke(self, key_id: str) -> bool:
        result = await self.session.execute(update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                                            .values(revoked_at=func.now()).returning(api_keys.c.id))
        return result.first() is not None

    async def all(self) -> list[dict[str, Any]]:
        rows = await self.session.execute(select(api_keys.c.id, api_keys.c.name, api_keys.c.role, api_keys.c.created_at,
                                                 api_keys.c.revoked_at).order_by(api_keys.c.created_at))
        return [dict(r) for r in rows.mappings()]
