"""assignment's tables (schema `assignment`) and its writes (the read side is views.py).

Hot statements go to asyncpg directly, rows as one JSON document (shared.db.json_rows), a batch's lookups
joined to its keys (`unnest($1) JOIN …`, see scoring's db.py for why never `= ANY($1)`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_assignment.domain.routing import Load, Loads
from leadflow_shared.db import driver_connection, json_rows, json_text, service_metadata

metadata = service_metadata("assignment")

# A lead as assignment knows it: what routing reads (scoring's and intake's view) and where it is now.
leads = Table(
    "leads", metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("status", String(20), nullable=False),  # waiting | assigned | pooled | queued | converted
    Column("owner_id", String(100)),
    Column("team_id", String(100)),
    Column("pool_id", String(100)),
    Column("queue", String(100)),
    Column("previous_owners", ARRAY(Text), nullable=False, server_default="{}"),
    Column("stage", String(20)),
    Column("grade", String(2)),
    Column("channel", String(50)),
    Column("partner_id", String(100)),
    Column("company_id", Uuid),
    Column("customer_id", Uuid),
    Column("account_owner_id", String(100)),
    Column("facts", JSONB, nullable=False, server_default="{}"),  # the rest of domain.routing.LeadFacts
    Column("routed_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # 线索清洗: the SDR who qualified the lead (credited; never its sales owner), and whether its hand-off to
    # sales waits for scoring's MQL.
    Column("qualified_by", String(100)),
    Column("handoff_due", Boolean, nullable=False, server_default=text("false")),
    Index("ix_leads_owner", "owner_id", postgresql_where=text("status = 'assigned'")),
    Index("ix_leads_company_latest", "company_id", text("routed_at DESC NULLS LAST"),
          postgresql_where=text("status = 'assigned'")),
    Index("ix_leads_routed_at", "routed_at"),
    schema="assignment",
)

# Every decision, with its explanation (the candidates considered and why each was passed over).
decisions = Table(
    "decisions", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("kind", String(20), nullable=False),  # route | reassign | manual | territory | distribute
    Column("outcome", String(20), nullable=False),  # assigned | pooled | queued
    Column("owner_id", String(100)),
    Column("team_id", String(100)),
    Column("pool_id", String(100)),
    Column("queue", String(100)),
    Column("rule", String(100), nullable=False),
    Column("rules_version", String(20)),
    Column("strategy", String(50)),
    Column("reason", Text, nullable=False),
    Column("grade", String(2)),
    Column("channel", String(50)),
    Column("previous_owners", ARRAY(Text), nullable=False, server_default="{}"),
    Column("explanation", JSONB, nullable=False, server_default="{}"),
    Column("decided_by", String(100)),  # the manager, for manual, territory and distribute
    Column("decided_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_decisions_lead", "lead_id", "id"),
    Index("ix_decisions_decided_at", "decided_at"),
    schema="assignment",
)

# A rep's open leads and new leads today: locked by every transaction that gives or takes a lead, so that
# caps hold across processes (容量上限).
rep_loads = Table(
    "rep_loads", metadata,
    Column("rep_id", String(100), primary_key=True),
    Column("open_leads", Integer, nullable=False, server_default="0"),
    Column("day", Date),
    Column("new_today", Integer, nullable=False, server_default="0"),
    schema="assignment",
)

rr_pointers = Table(
    "rr_pointers", metadata,
    Column("key", String(200), primary_key=True),  # the rule (team/rule for a team's rules)
    Column("last_rep_id", String(100), nullable=False),
    schema="assignment",
)

# Leads given and converted per rep and source channel: measured conversion (smoothed in the domain).
conversion_counts = Table(
    "conversion_counts", metadata,
    Column("rep_id", String(100), primary_key=True),
    Column("channel", String(50), primary_key=True),
    Column("assigned", Integer, nullable=False, server_default="0"),
    Column("converted", Integer, nullable=False, server_default="0"),
    schema="assignment",
)

customer_owners = Table(
    "customer_owners", metadata,
    Column("customer_id", Uuid, primary_key=True),
    Column("owner_id", String(100)),
    schema="assignment",
)

org_versions = Table(
    "org_versions", metadata,
    Column("version", Integer, primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("created_by", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    schema="assignment",
)

rule_sets = Table(
    "rule_sets", metadata,
    Column("version", Integer, primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("created_by", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    schema="assignment",
)

# The versions in force, and `$1` decision ids drawn in the same round trip.
VERSIONS_SQL = ("SELECT (SELECT max(version) FROM assignment.org_versions) AS org, "
                "(SELECT max(version) FROM assignment.rule_sets) AS rules, "
                "ARRAY(SELECT nextval(pg_get_serial_sequence('assignment.decisions', 'id')) "
                "      FROM generate_series(1, $1)) AS ids")
LEADS_FOR_UPDATE_SQL = (
    "SELECT l.* FROM unnest($1::uuid[]) AS k(id) JOIN assignment.leads l ON l.lead_id = k.id "
    "ORDER BY l.lead_id FOR UPDATE OF l"
)
LOADS_SQL = ("SELECT r.rep_id, r.open_leads, r.day, r.new_today FROM unnest($1::text[]) AS k(id) "
             "JOIN assignment.rep_loads r ON r.rep_id = k.id ORDER BY r.rep_id")
LOADS_FOR_UPDATE_SQL = f"{LOADS_SQL} FOR UPDATE OF r"
# Only the reps without a row: a row another replica is updating would make the insert wait for its commit.
ENSURE_LOADS_SQL = ("INSERT INTO assignment.rep_loads (rep_id) SELECT k.id FROM unnest($1::text[]) AS k(id) "
                    "WHERE NOT EXISTS (SELECT 1 FROM assignment.rep_loads r WHERE r.rep_id = k.id) "
                    "ON CONFLICT (rep_id) DO NOTHING")
SAVE_LOADS_SQL = (
    "UPDATE assignment.rep_loads AS l SET open_leads = (r->>1)::int, new_today = (r->>2)::int, day = (r->>3)::date "
    "FROM jsonb_array_elements($1::text::jsonb) AS r WHERE l.rep_id = r->>0"
)
# Ownership changes not decided here (claims, releases, transfers, recycles, conversions): added, in rep
# order (the order routing locks them in, so neither waits on the other in a cycle).
ADD_OPEN_SQL = (
    "WITH d AS (SELECT r->>0 AS rep_id, (r->>1)::int AS delta FROM jsonb_array_elements($1::text::jsonb) AS r), "
    "locked AS (SELECT l.rep_id FROM assignment.rep_loads l JOIN d ON d.rep_id = l.rep_id "
    "  ORDER BY l.rep_id FOR UPDATE OF l) "
    "UPDATE assignment.rep_loads AS l SET open_leads = greatest(0, l.open_leads + d.delta) "
    "FROM d JOIN locked ON locked.rep_id = d.rep_id WHERE l.rep_id = d.rep_id"
)
POINTERS_SQL = "SELECT key, last_rep_id FROM assignment.rr_pointers ORDER BY key"
POINTERS_FOR_UPDATE_SQL = f"{POINTERS_SQL} FOR UPDATE"
SAVE_POINTERS_SQL = (
    "INSERT INTO assignment.rr_pointers (key, last_rep_id) "
    "SELECT r->>0, r->>1 FROM jsonb_array_elements($1::text::jsonb) AS r "
    "ON CONFLICT (key) DO UPDATE SET last_rep_id = excluded.last_rep_id"
)
LEAD_FIELDS = ["lead_id", "status", "owner_id", "team_id", "pool_id", "queue", "previous_owners", "stage", "grade",
               "channel", "partner_id", "company_id", "customer_id", "account_owner_id", "facts", "routed_at",
               "qualified_by", "handoff_due"]
UPSERT_LEADS_SQL = (
    "INSERT INTO assignment.leads (lead_id, status, owner_id, team_id, pool_id, queue, previous_owners, stage, "
    "  grade, channel, partner_id, company_id, customer_id, account_owner_id, facts, routed_at, qualified_by, "
    "  handoff_due) "
    "SELECT (r->>0)::uuid, r->>1, r->>2, r->>3, r->>4, r->>5, ARRAY(SELECT jsonb_array_elements_text(r->6)), r->>7, "
    "  r->>8, r->>9, r->>10, (r->>11)::uuid, (r->>12)::uuid, r->>13, (r->>14)::jsonb, (r->>15)::timestamptz, "
    "  r->>16, coalesce((r->>17)::boolean, false) "
    "FROM jsonb_array_elements($1::text::jsonb) AS r "
    "ON CONFLICT (lead_id) DO UPDATE SET status = excluded.status, owner_id = excluded.owner_id, "
    "  team_id = excluded.team_id, pool_id = excluded.pool_id, queue = excluded.queue, "
    "  previous_owners = excluded.previous_owners, stage = excluded.stage, grade = excluded.grade, "
    "  channel = coalesce(excluded.channel, leads.channel), "
    "  partner_id = coalesce(excluded.partner_id, leads.partner_id), "
    "  company_id = coalesce(excluded.company_id, leads.company_id), "
    "  customer_id = coalesce(excluded.customer_id, leads.customer_id), "
    "  account_owner_id = coalesce(excluded.account_owner_id, leads.account_owner_id), facts = excluded.facts, "
    "  routed_at = excluded.routed_at, qualified_by = excluded.qualified_by, handoff_due = excluded.handoff_due, "
    "  updated_at = now()"
)
# What intake knows: filled in where blank, never touching where the lead is (scoring's consumer may have
# routed it already: the topics are consumed apart).
RECEIVED_FIELDS = ["lead_id", "partner_id", "account_owner_id", "company_id", "customer_id", "channel"]
SAVE_RECEIVED_SQL = (
    "INSERT INTO assignment.leads AS l (lead_id, status, partner_id, account_owner_id, company_id, customer_id, channel) "
    "SELECT (r->>0)::uuid, 'waiting', r->>1, r->>2, (r->>3)::uuid, (r->>4)::uuid, r->>5 "
    "FROM jsonb_array_elements($1::text::jsonb) AS r ORDER BY 1 "
    "ON CONFLICT (lead_id) DO UPDATE SET partner_id = coalesce(l.partner_id, excluded.partner_id), "
    "  account_owner_id = coalesce(l.account_owner_id, excluded.account_owner_id), "
    "  company_id = coalesce(l.company_id, excluded.company_id), "
    "  customer_id = coalesce(l.customer_id, excluded.customer_id), channel = coalesce(l.channel, excluded.channel)"
)
DECISION_FIELDS = ["id", "lead_id", "kind", "outcome", "owner_id", "team_id", "pool_id", "queue", "rule",
                   "rules_version", "strategy", "reason", "grade", "channel", "previous_owners", "explanation",
                   "decided_by"]
INSERT_DECISIONS_SQL = (
    "INSERT INTO assignment.decisions (id, lead_id, kind, outcome, owner_id, team_id, pool_id, queue, rule, "
    "  rules_version, strategy, reason, grade, channel, previous_owners, explanation, decided_by) "
    "OVERRIDING SYSTEM VALUE "
    "SELECT (r->>0)::bigint, (r->>1)::uuid, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9, r->>10, r->>11, "
    "  r->>12, r->>13, ARRAY(SELECT jsonb_array_elements_text(r->14)), (r->>15)::jsonb, r->>16 "
    "FROM jsonb_array_elements($1::text::jsonb) AS r"
)
DECISION_IDS_SQL = "SELECT nextval(pg_get_serial_sequence('assignment.decisions', 'id')) FROM generate_series(1, $1)"
ADD_COUNTS_SQL = (
    "INSERT INTO assignment.conversion_counts AS c (rep_id, channel, assigned, converted) "
    "SELECT r->>0, r->>1, (r->>2)::int, (r->>3)::int FROM jsonb_array_elements($1::text::jsonb) AS r "
    "ORDER BY r->>0, r->>1 "
    "ON CONFLICT (rep_id, channel) DO UPDATE SET assigned = c.assigned + excluded.assigned, "
    "  converted = c.converted + excluded.converted"
)
# The latest routed lead of each company, one index probe each (ix_leads_company_latest): a busy company's
# whole history is never read and sorted.
COMPANY_OWNERS_SQL = (
    "SELECT k.id AS company_id, l.owner_id FROM unnest($1::uuid[]) AS k(id) CROSS JOIN LATERAL ("
    "  SELECT owner_id FROM assignment.leads WHERE company_id = k.id AND status = 'assigned' "
    "  ORDER BY routed_at DESC NULLS LAST LIMIT 1) l"
)
CUSTOMER_OWNERS_SQL = ("SELECT c.customer_id, c.owner_id FROM unnest($1::uuid[]) AS k(id) "
                       "JOIN assignment.customer_owners c ON c.customer_id = k.id WHERE c.owner_id IS NOT NULL")
# Both in one round trip: (kind, id, owner).
OWNERS_SQL = (f"SELECT 'customer' AS kind, customer_id AS id, owner_id FROM ({CUSTOMER_OWNERS_SQL}) c "
              f"UNION ALL SELECT 'company', company_id, owner_id FROM ({COMPANY_OWNERS_SQL.replace('$1', '$2')}) o")


class AssignmentRepository:
    """The writes of routing and of ownership changes, a batch at a time."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _conn(self) -> Any:
        return await driver_connection(self.session)

    async def versions(self, decision_ids: int = 0) -> tuple[int | None, int | None, list[int]]:
        """The organisation's and rules' versions in force, and `decision_ids` new decision ids."""
        row = await (await self._conn()).fetchrow(VERSIONS_SQL, decision_ids)
        return row["org"], row["rules"], list(row["ids"])

    async def leads_for_update(self, lead_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        ids = list(set(lead_ids))
        if not ids:
            return {}
        rows = await (await self._conn()).fetch(LEADS_FOR_UPDATE_SQL, ids)
        return {row["lead_id"]: dict(row) for row in rows}

    async def save_leads(self, rows: Sequence[dict[str, Any]]) -> None:
        # Nested JSON (facts, explanations) travels as a string inside the document: Postgres then parses the
        # document's rows flat, and each value once (nested, a batch's document took 3 times as long).
        if rows:
            doc = json_rows([{**row, "facts": json_text(row["facts"] or {})} for row in rows], LEAD_FIELDS)
            await (await self._conn()).execute(UPSERT_LEADS_SQL, doc)

    async def save_received(self, rows: Sequence[dict[str, Any]]) -> None:
        unique = list({row["lead_id"]: row for row in rows}.values())  # one row per lead in a statement
        if unique:
            await (await self._conn()).execute(SAVE_RECEIVED_SQL, json_rows(unique, RECEIVED_FIELDS))

    async def ensure_loads(self, rep_ids: Sequence[str]) -> None:
        if rep_ids:
            await (await self._conn()).execute(ENSURE_LOADS_SQL, list(rep_ids))

    async def loads_for_update(self, rep_ids: Sequence[str], today: date) -> Loads:
        """The reps' loads, locked until the transaction ends (new leads today are 0 on a new day)."""
        return await self.loads(rep_ids, today, lock=True)

    async def loads(self, rep_ids: Sequence[str], today: date, *, lock: bool) -> Loads:
        """The reps' loads as last committed; with `lock`, locked until the transaction ends, in rep order."""
        loads = Loads()
        if not rep_ids:
            return loads
        for row in await (await self._conn()).fetch(LOADS_FOR_UPDATE_SQL if lock else LOADS_SQL, list(rep_ids)):
            loads[row["rep_id"]] = Load(row["open_leads"], row["new_today"] if row["day"] == today else 0)
        return loads

    async def save_loads(self, loads: Mapping[str, Load], rep_ids: Iterable[str], today: date) -> None:
        rows = []
        for rep_id in rep_ids:
            load = loads.get(rep_id) or Load()
            rows.append({"rep_id": rep_id, "open": load.open, "new": load.new_today, "day": today})
        if rows:
            await (await self._conn()).execute(SAVE_LOADS_SQL, json_rows(rows, ["rep_id", "open", "new", "day"]))

    async def add_open(self, deltas: dict[str, int]) -> None:
        rows = [{"rep_id": rep, "delta": n} for rep, n in sorted(deltas.items()) if n and rep]
        if rows:
            await self.ensure_loads([row["rep_id"] for row in rows])  # a rep the organisation does not list yet
            await (await self._conn()).execute(ADD_OPEN_SQL, json_rows(rows, ["rep_id", "delta"]))

    async def pointers(self, *, lock: bool) -> dict[str, str]:
        """Where each round robin stopped; with `lock`, locked until the transaction ends."""
        sql = POINTERS_FOR_UPDATE_SQL if lock else POINTERS_SQL
        return {row["key"]: row["last_rep_id"] for row in await (await self._conn()).fetch(sql)}

    async def save_pointers(self, pointers: dict[str, str], keys: Iterable[str]) -> None:
        rows = [{"key": k, "rep": pointers[k]} for k in sorted(keys)]
        if rows:
            await (await self._conn()).execute(SAVE_POINTERS_SQL, json_rows(rows, ["key", "rep"]))

    async def decision_ids(self, count: int) -> list[int]:
        if not count:
            return []
        return [row[0] for row in await (await self._conn()).fetch(DECISION_IDS_SQL, count)]

    async def add_decisions(self, rows: Sequence[dict[str, Any]]) -> None:
        """Decisions, each `explanation` given as JSON text (see save_leads)."""
        if rows:
            await (await self._conn()).execute(INSERT_DECISIONS_SQL, json_rows(rows, DECISION_FIELDS))

    async def add_counts(self, counts: dict[tuple[str, str], tuple[int, int]]) -> None:
        rows = [{"rep": rep, "channel": channel, "assigned": a, "converted": c}
                for (rep, channel), (a, c) in sorted(counts.items()) if a or c]
        if rows:
            await (await self._conn()).execute(ADD_COUNTS_SQL, json_rows(rows, ["rep", "channel", "assigned", "converted"]))

    async def owners(self, customer_ids: Iterable[uuid.UUID], company_ids: Iterable[uuid.UUID]
                     ) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
        """The owners of these customers, and the reps working these companies' leads."""
        customers, companies = list({c for c in customer_ids if c}), list({c for c in company_ids if c})
        if not customers and not companies:
            return {}, {}
        found: dict[str, dict[uuid.UUID, str]] = {"customer": {}, "company": {}}
        for row in await (await self._conn()).fetch(OWNERS_SQL, customers, companies):
            found[row["kind"]][row["id"]] = row["owner_id"]
        return found["customer"], found["company"]

    async def set_customer_owner(self, customer_id: uuid.UUID, owner_id: str | None) -> None:
        await (await self._conn()).execute(
            "INSERT INTO assignment.customer_owners (customer_id, owner_id) VALUES ($1, $2) "
            "ON CONFLICT (customer_id) DO UPDATE SET owner_id = excluded.owner_id", customer_id, owner_id)

    async def conversion_counts(self) -> dict[tuple[str, str], tuple[int, int]]:
        rows = await (await self._conn()).fetch("SELECT rep_id, channel, assigned, converted FROM assignment.conversion_counts")
        return {(row["rep_id"], row["channel"]): (row["assigned"], row["converted"]) for row in rows}

    async def routed_between(self, start: Any, end: Any, limit: int) -> list[Any]:
        """The leads first routed in [start, end), in the order they came (what a simulation replays)."""
        return list(await (await self._conn()).fetch(
            "SELECT * FROM assignment.leads WHERE routed_at IS NOT NULL "
            "AND ($1::timestamptz IS NULL OR routed_at >= $1) AND ($2::timestamptz IS NULL OR routed_at < $2) "
            "ORDER BY routed_at, lead_id LIMIT $3", start, end, limit))



class CatalogueRepository:
    """The organisation and rule set, each a versioned document (the newest is current)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current(self, table: Table) -> tuple[int, dict[str, Any]] | None:
        conn = await driver_connection(self.session)
        row = await conn.fetchrow(f"SELECT version, document::text AS document FROM assignment.{table.name} "
                                  "ORDER BY version DESC LIMIT 1")
        if row is None:
            return None
        return row["version"], json.loads(row["document"])

    async def add(self, table: Table, document: dict[str, Any], created_by: str | None) -> int:
        """Store a new version (serialized by a lock on the table: two writers never take one number)."""
        conn = await driver_connection(self.session)
        await conn.execute(f"LOCK TABLE assignment.{table.name} IN SHARE ROW EXCLUSIVE MODE")
        version = await conn.fetchval(f"SELECT coalesce(max(version), 0) + 1 FROM assignment.{table.name}")
        await conn.execute(f"INSERT INTO assignment.{table.name} (version, document, created_by) "
                           "VALUES ($1, $2::text::jsonb, $3)", version, json_text(document), created_by)
        return int(version)
