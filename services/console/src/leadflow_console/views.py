"""console's reads: an account to check a password against, a session to serve a page under."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from leadflow_console.tables import accounts, sessions
from leadflow_shared.db import Database


async def account(db: Database, person_id: str) -> dict[str, Any] | None:
    async with db.uow() as uow:
        row = (await uow.session.execute(select(accounts).where(accounts.c.person_id == person_id))).first()
    return dict(row._mapping) if row else None


async def all_accounts(db: Database) -> list[dict[str, Any]]:
    a = accounts.c
    async with db.uow() as uow:
        rows = await uow.session.execute(select(a.person_id, a.name, a.roles, a.teams, a.disabled, a.locked_until)
                                         .order_by(a.person_id))
    return [dict(r._mapping) for r in rows]


async def live_session(db: Database, id_hash: str, now: datetime) -> dict[str, Any] | None:
    async with db.uow() as uow:
        row = (await uow.session.execute(select(sessions).where(
            sessions.c.id_hash == id_hash, sessions.c.expires_at > now))).first()
    return dict(row._mapping) if row else None
