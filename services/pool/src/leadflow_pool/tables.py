"""pool's tables (schema `pool`): its read model of every lead and who holds it, the timeline, follow-ups and
visits, tasks, collusion flags, the business-day calendar and the pools document."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    BigInteger,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from leadflow_shared.db import service_metadata

metadata = service_metadata("pool")

# One row per lead pool knows: what intake and scoring said of it (the read model the pool lists filter on)
# and where it is now: in a pool (公海), held by an owner (with his deadlines), converted, nurtured or invalid.
pool_leads = Table(
    "pool_leads",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("pool_id", String(100), nullable=False, comment="The pool it is in, or belongs to while owned."),
    Column("owner_id", String(100)),
    Column("status", String(20), nullable=False, comment="in_pool | owned | converted | nurture | invalid"),
    Column("next_deadline", DateTime(timezone=True), comment="The owner's nearest deadline."),
    Column("deadline_kind", String(30), comment="first_follow_up | inactivity | conversion"),
    Column("workflow_id", String(200), comment="The ownership workflow that keeps the deadlines."),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # ownership
    Column("ownership_seq", Integer, nullable=False, server_default=text("0"),
           comment="Counts ownerships: a workflow or reminder of an earlier one changes nothing."),
    Column("team_id", String(100)),
    Column("owner_since", DateTime(timezone=True)),
    Column("owned_via", String(20), comment="assigned | claimed | transferred"),
    Column("protected_until", DateTime(timezone=True), comment="A claim's protection: not recycled before."),
    Column("first_follow_up_deadline", DateTime(timezone=True)),
    Column("inactivity_deadline", DateTime(timezone=True)),
    Column("conversion_deadline", DateTime(timezone=True)),
    Column("last_follow_up_at", DateTime(timezone=True)),
    Column("previous_owner_ids", ARRAY(String(100)), nullable=False, server_default=text("'{}'")),
    Column("pooled_at", DateTime(timezone=True), comment="When it last went into a pool (idle since)."),
    Column("qualified_by", String(100), comment="The SDR who qualified it (credit)."),
    Column("disposition_reason", String(100)),
    # read model of intake's and scoring's events
    Column("name", String(200)),
    Column("mobile", String(40)),
    Column("wechat", String(100)),
    Column("email", String(200)),
    Column("company_name", String(300)),
    Column("province", String(50)),
    Column("city", String(50)),
    Column("industry", String(100)),
    Column("source", String(50)),
    Column("partner_id", String(100)),
    Column("customer_level", String(20)),
    Column("grade", String(2)),
    Column("score", Float),
    Column("stage", String(20)),
    Column("received_at", DateTime(timezone=True)),
    Column("birthday", Date),
    Column("do_not_contact", Boolean, nullable=False, server_default=text("false")),
    Column("last_touched_at", DateTime(timezone=True), comment="Last reactivation touch (库存线索激活)."),
    Index("pool_leads_by_pool", "pool_id", "status", "score"),
    Index("pool_leads_by_owner", "owner_id", "status", "next_deadline"),
)

# Everything that happened to a lead in pool's view, newest first on its timeline; claims per day, cooldowns
# and collusion are read from it too.
timeline = Table(
    "timeline",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("lead_id", Uuid, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(30), nullable=False,
           comment="assigned | pooled | claimed | released | transferred | recycled | follow_up | visit | "
                   "reminder | task | disposition | converted"),
    Column("actor", String(100), comment="Who did it (a staff id), or `system`."),
    Column("owner_id", String(100), comment="The owner concerned (the new one, or the one who lost it)."),
    Column("pool_id", String(100)),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("timeline_by_lead", "lead_id", "at"),
    Index("timeline_by_kind", "kind", "at"),
    Index("timeline_by_owner", "owner_id", "kind", "at"),
)

follow_ups = Table(
    "follow_ups",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("staff_id", String(100), nullable=False),
    Column("type", String(20), nullable=False, comment="call | visit | wechat | email | meeting"),
    Column("note", Text),
    Column("outcome", String(50)),
    Column("next_follow_up_at", DateTime(timezone=True)),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("accuracy_m", Float),
    Column("location_flags", ARRAY(String(40)), nullable=False, server_default=text("'{}'"),
           comment="repeated_position | impossible_travel (模拟定位)"),
    Column("disposition", String(20), comment="qualified | nurture | invalid (an SDR's)"),
    Column("disposition_reason", String(100)),
    Column("bant", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("follow_ups_by_lead", "lead_id", "created_at"),
    Index("follow_ups_by_staff", "staff_id", "created_at"),
    Index("follow_ups_by_position", "latitude", "longitude"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False),
    Column("assignee_id", String(100), nullable=False),
    Column("kind", String(30), nullable=False, comment="follow_up | call_campaign | birthday_call | ..."),
    Column("title", String(200), nullable=False),
    Column("note", Text),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False, server_default=text("'open'"), comment="open | done | cancelled"),
    Column("campaign", String(100)),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
    Index("tasks_by_assignee", "assignee_id", "status", "due_at"),
    Index("tasks_by_lead", "lead_id"),
)

collusion_flags = Table(
    "collusion_flags",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False, comment="pair | ping_pong"),
    Column("released_by", String(100), nullable=False),
    Column("claimed_by", String(100), nullable=False),
    Column("lead_ids", ARRAY(Uuid), nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("first_at", DateTime(timezone=True), nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    Index("collusion_flags_pair", "kind", "released_by", "claimed_by", unique=True),
)

# The business-day calendar pool owns (法定节假日 and 调休): only the exceptions to Monday–Friday are rows.
calendar_days = Table(
    "calendar_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("workday", Boolean, nullable=False, comment="false: a holiday; true: a make-up working day (调休)"),
    Column("name", String(100)),
)
calendar_years = Table(
    "calendar_years",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("source", String(300), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The pools document (pools, their members and rules, the reason lists), versioned like assignment's org.
pool_documents = Table(
    "pool_documents",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("document", JSONB, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# 库存线索激活: how many candidates went out per day (the daily cap).
reactivation_days = Table(
    "reactivation_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("selected", Integer, nullable=False),
)
