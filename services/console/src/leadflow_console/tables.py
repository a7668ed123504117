"""console's tables (schema `console`): local sign-in accounts and sign-in sessions. Everything else a page
shows is asked of the services' APIs with the signed-in person's token."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from leadflow_shared.db import service_metadata

metadata = service_metadata("console")

accounts = Table(
    "accounts", metadata,
    Column("person_id", String(100), primary_key=True, comment="The staff id its tokens name (`sub`)."),
    Column("name", String(200)),
    Column("password_hash", Text, nullable=False, comment="Argon2id."),
    Column("roles", JSONB, nullable=False),
    Column("teams", JSONB, nullable=False),
    Column("disabled", Boolean, nullable=False, server_default="false"),
    Column("failed_attempts", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

sessions = Table(
    "sessions", metadata,
    Column("id_hash", String(64), primary_key=True, comment="SHA-256 of the cookie's random id."),
    Column("person_id", String(100), nullable=False),
    Column("name", String(200)),
    Column("roles", JSONB, nullable=False),
    Column("teams", JSONB, nullable=False),
    Column("token", Text, nullable=False, comment="The staff token the pages call the APIs with."),
    Column("via", String(20), nullable=False, comment="local | oidc"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("sessions_by_person", "person_id"),
    Index("sessions_by_expiry", "expires_at"),
)
