"""Every endpoint of every service says who may call it, and staff endpoints refuse whoever may not.

Each route handler of each installed service (endpoints added later included) is public (health, metrics,
the OpenAPI schema; the console's sign-in pages and static files), partner-keyed (`opt={"auth": "partner"}`),
guarded by `staff_roles(...)`, or a console page behind a signed-in session (`opt={"auth": "session"}`, which
sends whoever has none to the sign-in page). Each staff
endpoint, in the service's real app on this session's Postgres and Kafka, answers 401 with a reason to no
token, an expired, a badly signed or another issuer's token, and 403 with a reason to a role it does not
admit; the roles it admits pass its guard.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.testing import TestClient

from leadflow_shared.service import Service, discover_services
from leadflow_shared.staff import ROLE_ORDER, STATE_KEY, Staff, admitted_roles, load_private_key

SERVICES = discover_services()
PUBLIC_PREFIXES = ("/health", "/metrics", "/schema")
PAGE_PREFIXES = ("/sign-in", "/language", "/static")  # the console's, before anyone signs in


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as declared: /v1/leads/{lead_id:uuid}
    handler: HTTPRouteHandler

    @property
    def auth(self) -> str | None:
        return self.handler.opt.get("auth")

    @property
    def url(self) -> str:
        """The path with its parameters filled."""
        fill = {"uuid": str(uuid.uuid4()), "int": "1", "float": "1", "decimal": "1"}
        return re.sub(r"\{(\w+)(?::(\w+))?\}", lambda m: fill.get(m.group(2) or "str", "x"), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.handler.handler_name})"


def endpoints(app: Litestar) -> list[Endpoint]:
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in sorted(getattr(handler, "http_methods", ())):
                found.append(Endpoint(method, route.path, handler))
    return found


@pytest.fixture(scope="module", params=list(SERVICES))
def running(request: pytest.FixtureRequest, leadflow_env: dict[str, str], migrated: object
            ) -> Iterator[tuple[Service[Any, Any], Litestar, TestClient[Litestar]]]:
    """The service's app as it runs (its runtime started on this session's database and Kafka)."""
    service = SERVICES[request.param]
    run = uuid.uuid4().hex[:8]
    with pytest.MonkeyPatch.context() as env:
        for key, value in {**leadflow_env, "LEADFLOW_KAFKA_GROUP_PREFIX": f"test-{run}",
                           "LEADFLOW_POOL_TASK_QUEUE": f"test-{run}-pool"}.items():
            env.setenv(key, value)
        settings = service.settings()
    app = service.create_app(settings)
    with TestClient(app, timeout=30) as client:
        yield service, app, client


def _token(signing_key: Any, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": "leadflow", "aud": "leadflow", "sub": "rep-wang", "iat": now, "exp": now + 600,
              "roles": list(ROLE_ORDER), "teams": ["east"], **changes}
    return jwt.encode(claims, signing_key, algorithm="ES256")


def test_every_handler_is_public_partner_keyed_or_for_staff(
        running: tuple[Service[Any, Any], Litestar, TestClient[Litestar]]) -> None:
    service, app, client = running
    unmarked, misplaced = [], []
    for endpoint in endpoints(app):
        roles = admitted_roles(endpoint.handler)
        if roles is not None:
            if endpoint.auth != "staff" or endpoint.handler.opt.get("staff_roles") is None:
                misplaced.append(f"{endpoint}: staff guard not recorded in opt")
        elif endpoint.auth == "public":
            prefixes = PUBLIC_PREFIXES + (PAGE_PREFIXES if service.name == "console" else ())
            if not endpoint.path.startswith(prefixes) and endpoint.method != "OPTIONS":
                misplaced.append(f"{endpoint}: public, but not health, metrics or the schema")
        elif endpoint.auth == "session":
            if service.name != "console" or "viewer" not in endpoint.handler.resolve_dependencies():
                misplaced.append(f"{endpoint}: a page without the signed-in viewer")
        elif endpoint.auth != "partner":
            unmarked.append(str(endpoint))
    assert not unmarked, (f"{service.name}: handlers that are neither public, partner-keyed (opt auth=partner) "
                          f"nor guarded by staff_roles(...): {unmarked}")
    assert not misplaced, misplaced

    schema = client.get("/schema/openapi.json").json()
    assert "staffToken" in schema.get("components", {}).get("securitySchemes", {})
    for endpoint in endpoints(app):
        if endpoint.auth == "staff" and endpoint.handler.include_in_schema:
            openapi_path = re.sub(r"\{(\w+):\w+\}", r"{\1}", endpoint.path)
            operation = schema["paths"][openapi_path][endpoint.method.lower()]
            assert operation["security"] == [{"staffToken": endpoint.handler.opt["staff_roles"]}], endpoint


def test_staff_endpoints_refuse_whoever_may_not_call_them(
        running: tuple[Service[Any, Any], Litestar, TestClient[Litestar]], leadflow_env: dict[str, str],
        staff_token: Any) -> None:
    service, app, client = running
    ours = load_private_key(leadflow_env["LEADFLOW_STAFF_SIGNING_KEY_FILE"])
    refusals = {
        "no token": (None, 401),
        "not a JWT": ("Bearer not-a-token", 401),
        "expired": ("Bearer " + _token(ours, exp=int(time.time()) - 3600), 401),
        "badly signed": ("Bearer " + _token(ec.generate_private_key(ec.SECP256R1())), 401),
        "another issuer": ("Bearer " + _token(ours, iss="https://sso.elsewhere.example"), 401),
        "another audience": ("Bearer " + _token(ours, aud="crm"), 401),
    }
    problems: list[str] = []
    staff_endpoints = [e for e in endpoints(app) if e.auth == "staff"]
    for endpoint in staff_endpoints:
        admitted = admitted_roles(endpoint.handler) or frozenset()
        cases = dict(refusals)
        others = [r for r in ROLE_ORDER if r not in admitted]
        if others:
            cases[f"role {others[0]}"] = (staff_token("someone", others[0], teams=["east"]), 403)
        for case, (auth, status) in cases.items():
            headers = {"Authorization": auth} if auth else {}
            # a body the handler could never take: guards answer before it is read
            reply = client.request(endpoint.method, endpoint.url, headers=headers, content=b"\x00{not json")
            detail = reply.json().get("detail") if reply.headers.get("content-type", "").startswith(
                "application/json") else None
            if reply.status_code != status or not detail:
                problems.append(f"{endpoint}, {case}: {reply.status_code} {reply.text[:200]} (expected {status} "
                                "with a reason)")
            elif status == 401 and 'error="invalid_token"' not in reply.headers.get("www-authenticate", ""):
                problems.append(f"{endpoint}, {case}: 401 without WWW-Authenticate: Bearer error=invalid_token")
        zh = client.request(endpoint.method, endpoint.url, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
        if zh.status_code != 401 or not re.search(r"[\u4e00-\u9fff]", zh.json().get("detail", "")):
            problems.append(f"{endpoint}: no reason in Chinese for Accept-Language zh: {zh.text[:200]}")
        # every role it admits passes its guards (checked on the guards alone: the handler may write)
        for role in admitted:
            connection = ASGIConnection({"type": "http", "method": endpoint.method, "path": endpoint.url,
                                         "headers": [(b"authorization", staff_token("someone", role).encode())],
                                         "litestar_app": app, "app": app, "state": {}, "query_string": b""})
            try:
                for guard in endpoint.handler.resolve_guards():
                    asyncio.run(guard(connection, endpoint.handler))
            except Exception as exc:
                problems.append(f"{endpoint}: role {role} is admitted but refused: {exc!r}")
                continue
            if not isinstance(connection.state.get(STATE_KEY), Staff):
                problems.append(f"{endpoint}: the guard did not leave the caller for the `staff` dependency")
        if endpoint.method == "GET" and "admin" in admitted:  # reads have no effect: through the handler too
            reply = client.get(endpoint.url, headers={"Authorization": staff_token("root", "admin")})
            if reply.status_code in (401, 403) or reply.status_code >= 500:
                problems.append(f"{endpoint}: an admin's read answered {reply.status_code} {reply.text[:200]}")
    assert not problems, f"{service.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", list(SERVICES))
def test_staff_endpoints_are_closed_without_a_key(name: str, leadflow_env: dict[str, str], staff_token: Any) -> None:
    """No key configured (no public key, signing key or JWKS URL): every staff call is refused, never open."""
    service = SERVICES[name]
    with pytest.MonkeyPatch.context() as env:
        for key, value in leadflow_env.items():
            if not key.startswith("LEADFLOW_STAFF_"):
                env.setenv(key, value)
        for key in ("LEADFLOW_STAFF_PUBLIC_KEY_FILE", "LEADFLOW_STAFF_SIGNING_KEY_FILE", "LEADFLOW_STAFF_JWKS_URL"):
            env.delenv(key, raising=False)
        settings = service.settings()
    app = service.create_app(settings)
    client = TestClient(app)  # no lifespan: the guard answers before anything is used
    for endpoint in (e for e in endpoints(app) if e.auth == "staff"):
        reply = client.request(endpoint.method, endpoint.url, headers={"Authorization": staff_token("root", "admin")})
        assert (reply.status_code, reply.json()["detail"]) == (401, "staff identity not configured"), endpoint


def test_every_console_page_sends_whoever_is_not_signed_in_to_the_sign_in_page(
        running: tuple[Service[Any, Any], Litestar, TestClient[Litestar]]) -> None:
    service, app, client = running
    pages = [e for e in endpoints(app) if e.auth == "session" and e.method in ("GET", "POST")]
    if service.name != "console":
        assert not pages, f"{service.name}: session pages outside the console: {pages}"
        return
    assert len(pages) > 15
    for page in pages:
        if page.method == "GET":
            answer = client.get(page.url, follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in?next="), page
        else:  # a form without its CSRF token is refused before anything else
            answer = client.post(page.url, data={"x": "1"}, follow_redirects=False)
            assert answer.status_code == 403, (page, answer.status_code)
