"""console's writes: accounts (made by `leadflow console accounts …`), failed and good sign-ins, sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_console.domain.accounts import Attempts
from leadflow_console.tables import accounts, metadata, sessions

__all__ = ["metadata", "save_account", "set_disabled", "record_attempts", "open_session", "close_session",
           "purge_sessions"]


async def save_account(session: AsyncSession, person_id: str, name: str | None, password_hash: str | None,
                       roles: Sequence[str], teams: Sequence[str]) -> None:
    """Make the account, or change it (its password only when one is given)."""
    values = {"person_id": person_id, "name": name, "roles": list(roles), "teams": list(teams)}
    changes = {**values, "updated_at": func.now(), "disabled": False, "failed_attempts": 0, "locked_until": None}
    if password_hash:
        values["password_hash"] = changes["password_hash"] = password_hash
    statement = insert(accounts).values(values).on_conflict_do_update(
        index_elements=[accounts.c.person_id], set_={k: v for k, v in changes.items() if k != "person_id"})
    await session.execute(statement)


async def set_disabled(session: AsyncSession, person_id: str, disabled: bool) -> bool:
    result = await session.execute(update(accounts).where(accounts.c.person_id == person_id)
                                   .values(disabled=disabled, updated_at=func.now()))
    if disabled:
        await session.execute(delete(sessions).where(sessions.c.person_id == person_id))
    return bool(result.rowcount)


async def record_attempts(session: AsyncSession, person_id: str, attempts: Attempts) -> None:
    await session.execute(update(accounts).where(accounts.c.person_id == person_id).values(
        failed_attempts=attempts.failed, locked_until=attempts.locked_until))


async def open_session(session: AsyncSession, id_hash: str, person_id: str, name: str | None,
                       roles: Sequence[str], teams: Sequence[str], token: str, via: str,
                       expires_at: datetime) -> None:
    await session.execute(insert(sessions).values(
        id_hash=id_hash, person_id=person_id, name=name, roles=list(roles), teams=list(teams), token=token,
        via=via, expires_at=expires_at))


async def close_session(session: AsyncSession, id_hash: str) -> None:
    await session.execute(delete(sessions).where(sessions.c.id_hash == id_hash))


async def purge_sessions(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(sessions).where(sessions.c.expires_at < now))
    return int(result.rowcount or 0)
