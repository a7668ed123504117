"""`leadflow console account-set|account-disable|accounts`: local sign-in accounts (本地账号)."""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import Annotated

import typer
from argon2 import PasswordHasher
from rich.console import Console as Terminal
from rich.table import Table

from leadflow_console import db, views
from leadflow_console.domain.accounts import AccountError, check_password, check_person_id
from leadflow_console.settings import ConsoleSettings
from leadflow_console.tables import metadata
from leadflow_shared.db import Database
from leadflow_shared.staff import Role

terminal = Terminal()


def _database() -> Database:
    return Database(ConsoleSettings().pg_dsn, metadata, "/leadflow/console-cli", pool_size=1)


async def set_account(person_id: str, roles: list[str], teams: list[str], password: str | None,
                      name: str | None = None, dsn: str | None = None) -> None:
    """Make or change an account (its password only when one is given); the tests and the demo call it."""
    person_id = check_person_id(person_id)
    if not roles or any(r not in [x.value for x in Role] for r in roles):
        raise AccountError(f"roles are among {', '.join(r.value for r in Role)}")
    hashed = PasswordHasher().hash(check_password(password)) if password is not None else None
    database = Database(dsn, metadata, "/leadflow/console-cli", pool_size=1) if dsn else _database()
    try:
        async with database.uow() as uow:
            if hashed is None and await views.account(database, person_id) is None:
                raise AccountError(f"{person_id} has no account yet: give it a password")
            await db.save_account(uow.session, person_id, name, hashed, roles, teams)
            await uow.commit()
    finally:
        await database.dispose()


def account_set(
    user: Annotated[str, typer.Option("--user", help="The staff id (the token's `sub`), e.g. rep-wang")],
    role: Annotated[list[Role], typer.Option("--role", help="A role (repeat for more)")],
    team: Annotated[list[str] | None, typer.Option("--team", help="A team (repeat for more)")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
    keep_password: Annotated[bool, typer.Option("--keep-password", help="Change roles or teams only")] = False,
) -> None:
    """Make or change a local sign-in account (the password is asked for, or read from stdin)."""
    password = None
    if not keep_password:
        password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("password: ")
    try:
        asyncio.run(set_account(user, [r.value for r in role], list(team or []), password, name))
    except AccountError as exc:
        terminal.print(f"[red]✗[/] {exc}")
        raise typer.Exit(2) from None
    terminal.print(f"[green]✓[/] {user}: account saved")


def account_disable(user: Annotated[str, typer.Option("--user")],
                    enable: Annotated[bool, typer.Option("--enable", help="Enable it again")] = False) -> None:
    """Disable an account (its sessions end now), or enable it again."""
    async def run() -> bool:
        database = _database()
        try:
            async with database.uow() as uow:
                found = await db.set_disabled(uow.session, user, not enable)
                await uow.commit()
            return found
        finally:
            await database.dispose()

    if not asyncio.run(run()):
        terminal.print(f"[red]✗[/] no account {user}")
        raise typer.Exit(1)
    terminal.print(f"[green]✓[/] {user}: {'enabled' if enable else 'disabled'}")


def accounts() -> None:
    """The local sign-in accounts."""
    async def run() -> list[dict[str, object]]:
        database = _database()
        try:
            return await views.all_accounts(database)
        finally:
            await database.dispose()

    table = Table("user", "name", "roles", "teams", "state")
    for a in asyncio.run(run()):
        table.add_row(str(a["person_id"]), str(a["name"] or ""), ", ".join(a["roles"]), ", ".join(a["teams"]),
                      "disabled" if a["disabled"] else "locked" if a["locked_until"] else "ok")
    terminal.print(table)
