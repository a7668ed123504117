"""What every page shares: who is signed in (the session cookie), the language, the menu, a message carried
over a redirect (flash), and errors shown as a page in the person's language, never a stack trace."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template

from leadflow_console import views
from leadflow_console.bootstrap import Console
from leadflow_console.domain.i18n import choose_language, translate
from leadflow_console.platform import ApiError, Caller, SignInExpired
from leadflow_shared.logging import get_logger
from leadflow_shared.staff import Role

log = get_logger(__name__)

SESSION_COOKIE = "lf_session"
LANGUAGE_COOKIE = "lf_lang"
FLASH_COOKIE = "lf_flash"

REP_MENU = [("/my/leads", "nav.my_leads"), ("/pools", "nav.pools"), ("/my/opportunities", "nav.my_opportunities"),
            ("/my/notifications", "nav.notifications")]
MANAGER_MENU = [("/manage/queue", "nav.queue"), ("/manage/transfers", "nav.transfers"),
                ("/manage/distribute", "nav.distribute"), ("/manage/distribution", "nav.distribution"),
                ("/manage/flags", "nav.flags"), ("/manage/funnel", "nav.funnel"),
                ("/manage/leaderboard", "nav.leaderboard"), ("/manage/partners", "nav.partners"),
                ("/manage/rules", "nav.rules")]


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def language_of(request: Request[Any, Any, Any]) -> str:
    return choose_language(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))


class NotSignedIn(Exception):
    """No live session: the sign-in page, and back here after it."""

    quiet = True


class Forbidden(Exception):
    """Signed in, but this page is for managers."""

    quiet = True


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, their language, and the platform as they call it."""

    id: str
    name: str | None
    roles: frozenset[str]
    teams: tuple[str, ...]
    language: str
    caller: Caller
    session_hash: str

    @property
    def is_manager(self) -> bool:
        return bool(self.roles & {Role.manager, Role.admin})

    def require_manager(self) -> None:
        if not self.is_manager:
            raise Forbidden()

    def t(self, key: str, **values: Any) -> str:
        return translate(key, self.language, **values)


async def provide_viewer(request: Request[Any, Any, Any], console: NamedDependency[Console]) -> Viewer:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise NotSignedIn()
    hashed = session_hash(session_id)
    row = await views.live_session(console.db, hashed, datetime.now(UTC))
    if row is None:
        raise NotSignedIn()
    language = language_of(request)
    viewer = Viewer(row["person_id"], row["name"], frozenset(row["roles"]), tuple(row["teams"]), language,
                    console.platform.caller(row["token"], language), hashed)
    request.state["viewer"] = viewer  # an error page keeps the menu
    return viewer


VIEWER = {"viewer": Provide(provide_viewer)}
PAGE = {"auth": "session"}  # pages: a console session (cookie), not a bearer token


class PageController(Controller):
    """Pages for a signed-in person: each handler may take the `viewer`; without a session, the sign-in page."""

    opt = PAGE
    include_in_schema = False
    dependencies = VIEWER


def render(request: Request[Any, Any, Any], name: str, viewer: Viewer | None = None, *, status_code: int = 200,
           **context: Any) -> Template:
    """A page: its template with the words of the person's language, the menu and any flash message."""
    language = viewer.language if viewer else language_of(request)
    flash = request.cookies.get(FLASH_COOKIE)
    menu = []
    if viewer is not None:
        menu = list(REP_MENU) + (MANAGER_MENU if viewer.is_manager else [])
    response = Template(template_name=name, status_code=status_code, context={
        "t": lambda key, **values: translate(key, language, **values), "lang": language, "viewer": viewer,
        "menu": menu, "path": request.url.path, "flash": _flash_text(flash, language), **context})
    if flash:
        response.delete_cookie(FLASH_COOKIE)
    return response


def _flash_text(flash: str | None, language: str) -> dict[str, str] | None:
    """A flash cookie is `ok:<key>` or `error:<text>` (a service's refusal, already in the language)."""
    if not flash:
        return None
    kind, _, text = flash.partition(":")
    from urllib.parse import unquote

    text = unquote(text)
    if kind == "ok":
        key, _, count = text.partition("|")
        return {"kind": "ok", "text": translate(key, language, count=count) if count else translate(key, language)}
    return {"kind": "error", "text": text[:500]}


def redirect(path: str, *, ok: str | None = None, error: str | None = None) -> Redirect:
    """Back to a page after a form, with what happened shown there once."""
    response = Redirect(path=path, status_code=303)
    if ok:
        response.set_cookie(FLASH_COOKIE, "ok:" + quote(ok), httponly=True, samesite="lax", max_age=60)
    elif error:
        response.set_cookie(FLASH_COOKIE, "error:" + quote(error[:500]), httponly=True, samesite="lax", max_age=60)
    return response


def api_failure(exc: ApiError) -> str:
    """A service's refusal as one line for the person (its listed problems after its reason)."""
    return "; ".join([exc.detail, *exc.problems[:5]])


def local_path(target: str | None, default: str = "/") -> str:
    """Only this site's paths to go back to after sign-in (never another site: an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


# ---- errors as pages ----------------------------------------------------------------------------------

def not_signed_in(request: Request[Any, Any, Any], _: NotSignedIn) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = Redirect(path=f"/sign-in?next={quote(target)}", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def sign_in_expired(request: Request[Any, Any, Any], _: SignInExpired) -> Response[Any]:
    response = Redirect(path=f"/sign-in?expired=1&next={quote(request.url.path)}", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _error_page(request: Request[Any, Any, Any], status: int, message: str) -> Response[Any]:
    viewer = request.state.get("viewer") if hasattr(request, "state") else None
    return render(request, "error.html", viewer, status_code=status, message=message)  # type: ignore[return-value]


def forbidden(request: Request[Any, Any, Any], _: Forbidden) -> Response[Any]:
    return _error_page(request, 403, translate("error.forbidden", language_of(request)))


def api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    status = exc.status if exc.status in (400, 403, 404, 409, 422, 503) else 502
    return _error_page(request, status, api_failure(exc))


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    language = language_of(request)
    if exc.status_code == 403 and "csrf" in str(exc.detail).lower():
        return _error_page(request, 403, translate("error.csrf", language))
    if exc.status_code == 404:
        return _error_page(request, 404, translate("error.not_found", language))
    if exc.status_code >= 500:
        return unexpected(request, exc)
    return _error_page(request, exc.status_code, translate("error.form", language))


def unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("page failed", path=request.url.path, exc_info=exc)
    return _error_page(request, 500, translate("error.unexpected", language_of(request)))


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    NotSignedIn: not_signed_in, SignInExpired: sign_in_expired, Forbidden: forbidden, ApiError: api_error,
    HTTPException: http_error, Exception: unexpected,
}
