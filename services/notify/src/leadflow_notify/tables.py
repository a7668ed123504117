"""notify's tables (schema `notify`): the people it tells things and where, the team each rep was last assigned
in (learnt from leads.assigned.v1, for collusion flags), and every message with its tries."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Column, DateTime, Identity, Index, Integer, String, Table, Text, Time, UniqueConstraint, Uuid, func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from leadflow_shared.db import service_metadata

metadata = service_metadata("notify")

NOW = func.now()

recipients = Table(
    "recipients", metadata,
    Column("person_id", String(100), primary_key=True, comment="The staff id (a token's `sub`)."),
    Column("display_name", String(100)),
    Column("language", String(2), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("quiet_start", Time, comment="Quiet hours, local time (start > end crosses midnight)."),
    Column("quiet_end", Time),
    Column("kinds", ARRAY(String(20)), nullable=False, comment="The kinds of news wanted."),
    Column("watch_teams", ARRAY(String(100)), nullable=False,
           comment="Teams whose collusion flags they hear of (* all)."),
    Column("channels", JSONB, nullable=False,
           comment="[{channel, target fields}]: robot credentials, e-mail address."),
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
)

rep_teams = Table(
    "rep_teams", metadata,
    Column("person_id", String(100), primary_key=True),
    Column("team_id", String(100), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False, comment="The assignment that told it."),
)

notifications = Table(
    "notifications", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", Uuid, nullable=False, comment="The event that caused it (a random id for a test message)."),
    Column("topic", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("person_id", String(100), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("lead_id", Uuid),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False, comment="pending | sent | failed"),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("next_attempt_at", DateTime(timezone=True), comment="Pending: when it is due (a claim's lease end)."),
    Column("sent_at", DateTime(timezone=True)),
    UniqueConstraint("event_id", "person_id", "channel", name="uq_notifications_event_person_channel"),
    Index("ix_notifications_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("ix_notifications_person", "person_id", "id"),
    Index("ix_notifications_lead", "lead_id"),
)
