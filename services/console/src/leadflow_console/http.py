"""Signing in and out, the language switch and the home page. A local sign-in checks the password of a
console account and issues a staff token with the local signing key; the company's identity provider, where
one is configured, hands back a token the services verify under its keys (oidc.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio.to_thread
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.di import NamedDependency
from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from leadflow_console import db, views
from leadflow_console.bootstrap import Console
from leadflow_console.domain.accounts import Attempts
from leadflow_console.domain.forms import one
from leadflow_console.domain.i18n import LANGUAGES
from leadflow_console.pages import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    PageController,
    Viewer,
    local_path,
    new_session_id,
    redirect,
    render,
    session_hash,
)
from leadflow_shared.logging import get_logger
from leadflow_shared.staff import StaffKeyMissing, issue_token

log = get_logger(__name__)
FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def form_lists(data: dict[str, Any]) -> dict[str, list[str]]:
    """A form's fields as lists (a multi-select sends a field several times)."""
    return {k: (v if isinstance(v, list) else [v]) for k, v in data.items()}


async def start_session(console: NamedDependency[Console], request: Request[Any, Any, Any], person_id: str, name: str | None,
                        roles: list[str], teams: list[str], token: str, via: str, expires_at: datetime,
                        target: str) -> Redirect:
    """A session for the person (the cookie holds only a random id), and on to the page they wanted."""
    session_id = new_session_id()
    async with console.db.uow() as uow:
        await db.purge_sessions(uow.session, datetime.now(UTC))
        await db.open_session(uow.session, session_hash(session_id), person_id, name, roles, teams, token, via,
                              expires_at)
        await uow.commit()
    log.info("signed in", person=person_id, via=via)
    response = Redirect(path=local_path(target, "/my/leads"), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="lax",
                        secure=console.settings.console_cookie_secure,
                        max_age=int((expires_at - datetime.now(UTC)).total_seconds()))
    return response


class SignInController(Controller):
    path = "/"
    opt = {"auth": "public"}
    include_in_schema = False

    @get("/sign-in")
    async def form(self, request: Request[Any, Any, Any], console: NamedDependency[Console], next: str | None = None,
                   expired: str | None = None, bye: str | None = None) -> Template:
        notice = "sign_in.expired" if expired else "signed_out" if bye else None
        return render(request, "sign_in.html", next=local_path(next, "/my/leads"), notice=notice,
                      sso=bool(console.settings.console_oidc_issuer), error=None, person="")

    @post("/sign-in")
    async def sign_in(self, request: Request[Any, Any, Any], console: NamedDependency[Console], data: FormData) -> Any:
        form = form_lists(data)
        person, password, target = one(form, "person"), (form.get("password") or [""])[0], one(form, "next")
        settings = console.settings
        now = datetime.now(UTC)

        def refuse(key: str, **values: Any) -> Template:
            return render(request, "sign_in.html", status_code=401, next=local_path(target, "/my/leads"),
                          notice=None, sso=bool(settings.console_oidc_issuer), person=person,
                          error=(key, values))

        account = await views.account(console.db, person) if person else None
        if account is None:
            return refuse("sign_in.wrong")
        attempts = Attempts(account["failed_attempts"], account["locked_until"])
        if attempts.locked(now):
            minutes = max(1, int((account["locked_until"] - now).total_seconds() // 60) + 1)
            return refuse("sign_in.locked", minutes=minutes)
        if not await anyio.to_thread.run_sync(_verified, console, account["password_hash"], password):
            attempts = attempts.after_failure(now, settings.console_sign_in_attempts,
                                              timedelta(minutes=settings.console_lockout_minutes))
            async with console.db.uow() as uow:
                await db.record_attempts(uow.session, person, attempts)
                await uow.commit()
            log.warning("sign-in refused", person=person, locked=attempts.locked_until is not None)
            if attempts.locked(now):
                return refuse("sign_in.locked", minutes=int(settings.console_lockout_minutes))
            return refuse("sign_in.wrong")
        if account["disabled"]:
            return refuse("sign_in.disabled")
        ttl = timedelta(hours=settings.console_session_hours)
        try:
            token = issue_token(settings, person, list(account["roles"]), list(account["teams"]), ttl,
                                name=account["name"])
        except StaffKeyMissing as exc:
            log.error("local sign-in impossible", problem=str(exc))
            return refuse("sign_in.no_key")
        async with console.db.uow() as uow:
            await db.record_attempts(uow.session, person, Attempts())
            await uow.commit()
        return await start_session(console, request, person, account["name"], list(account["roles"]),
                                   list(account["teams"]), token, "local", now + ttl, target)

    @get("/language/{language:str}")
    async def language(self, language: str, next: str | None = None) -> Redirect:
        response = Redirect(path=local_path(next, "/my/leads"), status_code=303)
        if language in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, language, samesite="lax", max_age=365 * 86400)
        return response


def _verified(console: NamedDependency[Console], password_hash: str, password: str) -> bool:
    try:
        return bool(console.passwords.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


class SessionController(PageController):
    path = "/"

    @get("/")
    async def home(self, viewer: NamedDependency[Viewer]) -> Redirect:
        return Redirect(path="/my/leads", status_code=303)

    @post("/sign-out")
    async def sign_out(self, console: NamedDependency[Console], viewer: NamedDependency[Viewer]) -> Redirect:
        async with console.db.uow() as uow:
            await db.close_session(uow.session, viewer.session_hash)
            await uow.commit()
        response = redirect("/sign-in?bye=1")
        response.delete_cookie(SESSION_COOKIE)
        return response
