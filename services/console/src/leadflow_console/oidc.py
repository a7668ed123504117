"""Sign-in with the company's identity provider (OpenID Connect, authorization code with PKCE).

The provider's token (access or id token, a setting) becomes the session's staff token as it is: the services
verify it under the provider's keys (LEADFLOW_STAFF_JWKS_URL) as they verify any staff token; the console
checks it the same way before it opens a session."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import jwt
from litestar.di import NamedDependency
from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.response import Redirect, Template

from leadflow_console.bootstrap import Console
from leadflow_console.http import start_session
from leadflow_console.pages import local_path, render
from leadflow_shared.logging import get_logger
from leadflow_shared.staff import StaffAuthError

log = get_logger(__name__)
STATE_COOKIE = "lf_oidc"
_discovered: dict[str, dict[str, Any]] = {}


class SignInFailed(Exception):
    """Why the provider's sign-in did not complete (shown on the sign-in page)."""


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def discovery(client: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    """The provider's endpoints (its openid-configuration), fetched once per process."""
    if issuer not in _discovered:
        try:
            response = await client.get(issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=5)
            response.raise_for_status()
            _discovered[issuer] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInFailed(f"the identity provider is not reachable ({type(exc).__name__})") from None
    return _discovered[issuer]


def redirect_uri(console: NamedDependency[Console], request: Request[Any, Any, Any]) -> str:
    base = console.settings.console_public_url or str(request.base_url)
    return base.rstrip("/") + "/sign-in/callback"


class OidcController(Controller):
    path = "/sign-in"
    opt = {"auth": "public"}
    include_in_schema = False

    @get("/sso")
    async def start(self, request: Request[Any, Any, Any], console: NamedDependency[Console], next: str | None = None) -> Any:
        settings = console.settings
        if not (settings.console_oidc_issuer and settings.console_oidc_client_id):
            return failed(request, "not configured")
        try:
            endpoints = await discovery(console.platform.client, settings.console_oidc_issuer)
        except SignInFailed as exc:
            return failed(request, str(exc))
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier, challenge = pkce_pair()
        query = urlencode({"response_type": "code", "client_id": settings.console_oidc_client_id,
                           "redirect_uri": redirect_uri(console, request), "scope": settings.console_oidc_scopes,
                           "state": state, "nonce": nonce, "code_challenge": challenge,
                           "code_challenge_method": "S256"})
        response = Redirect(path=f"{endpoints['authorization_endpoint']}?{query}", status_code=303)
        response.set_cookie(STATE_COOKIE, json.dumps([state, verifier, nonce, local_path(next, "/my/leads")]),
                            httponly=True, samesite="lax", secure=settings.console_cookie_secure, max_age=600,
                            path="/sign-in")
        return response

    @get("/callback")
    async def callback(self, request: Request[Any, Any, Any], console: NamedDependency[Console], code: str | None = None,
                       answered_state: Annotated[str | None, Parameter(query="state")] = None,
                       error: str | None = None) -> Any:
        try:
            kept = json.loads(request.cookies.get(STATE_COOKIE) or "[]")
            expected, verifier, nonce, target = kept
        except (ValueError, TypeError):
            return failed(request, "the sign-in took too long or was started elsewhere")
        if error:
            return failed(request, error[:200])
        if not code or not answered_state or not secrets.compare_digest(answered_state, expected):
            return failed(request, "the answer does not match this sign-in")
        try:
            token = await exchange(console, request, code, verifier)
            staff = await console.verifier.verify_async(token)
            claims = jwt.decode(token, options={"verify_signature": False})
            if console.settings.console_oidc_token == "id_token" and claims.get("nonce") != nonce:
                raise SignInFailed("the id token was not issued for this sign-in")
        except SignInFailed as exc:
            return failed(request, str(exc))
        except StaffAuthError as exc:
            return failed(request, exc.message("zh" if request.cookies.get("lf_lang") == "zh" else "en"))
        expires_at = datetime.fromtimestamp(claims["exp"], UTC) if "exp" in claims else \
            datetime.now(UTC) + timedelta(hours=console.settings.console_session_hours)
        response = await start_session(console, request, staff.id, staff.name, sorted(staff.roles),
                                       sorted(staff.teams), token, "oidc", expires_at, target)
        response.delete_cookie(STATE_COOKIE, path="/sign-in")
        return response


async def exchange(console: NamedDependency[Console], request: Request[Any, Any, Any], code: str, verifier: str) -> str:
    """The authorization code for the provider's tokens; the one the services verify."""
    settings = console.settings
    endpoints = await discovery(console.platform.client, settings.console_oidc_issuer or "")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri(console, request),
            "client_id": settings.console_oidc_client_id, "code_verifier": verifier}
    auth = (settings.console_oidc_client_id or "", settings.console_oidc_client_secret) \
        if settings.console_oidc_client_secret else None
    try:
        response = await console.platform.client.post(endpoints["token_endpoint"], data=form, auth=auth, timeout=10)
    except httpx.HTTPError as exc:
        raise SignInFailed(f"the identity provider is not reachable ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise SignInFailed(f"the identity provider refused the code ({response.status_code})")
    token = response.json().get(settings.console_oidc_token)
    if not isinstance(token, str):
        raise SignInFailed(f"the identity provider gave no {settings.console_oidc_token}")
    return token


def failed(request: Request[Any, Any, Any], reason: str) -> Template:
    log.warning("company sign-in failed", reason=reason)
    return render(request, "sign_in.html", status_code=401, next="/my/leads", notice=None, sso=True, person="",
                  error=("sign_in.sso_failed", {"reason": reason}))
