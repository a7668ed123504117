"""Sign-in with the company's identity provider: a real OpenID Connect provider stands in (discovery, the
authorization endpoint, the token endpoint checking PKCE and the client's secret, its JWKS), served on a port
of its own; the console runs the code flow and opens a session with the provider's token."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Litestar, Request, Response, get, post
from litestar.response import Redirect
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from leadflow_console.app import service
from leadflow_console.settings import ConsoleSettings
from leadflow_console.tables import metadata, sessions
from leadflow_localstack import procs
from leadflow_shared.db import Database
from leadflow_shared.staff import public_jwk

CLIENT_ID, CLIENT_SECRET = "leadflow-console", "s3cret-of-the-console"


class Provider:
    """An identity provider that signs in `person` at once (no login form) and remembers each code's PKCE."""

    def __init__(self, port: int, person: str) -> None:
        self.issuer = f"http://127.0.0.1:{port}"
        self.person = person
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.codes: dict[str, dict[str, str]] = {}

    def app(self) -> Litestar:
        provider = self

        @get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, str]:
            return {"issuer": provider.issuer, "authorization_endpoint": f"{provider.issuer}/authorize",
                    "token_endpoint": f"{provider.issuer}/token", "jwks_uri": f"{provider.issuer}/jwks"}

        @get("/authorize")
        async def authorize(request: Request[Any, Any, Any]) -> Redirect:
            q = request.query_params
            assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
            assert q["code_challenge_method"] == "S256"
            code = uuid.uuid4().hex
            provider.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"],
                                    "nonce": q["nonce"]}
            return Redirect(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}")

        @post("/token", status_code=200)
        async def token(request: Request[Any, Any, Any]) -> Response[Any]:
            form = await request.form()
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            grant = provider.codes.pop(str(form.get("code")), None)
            verifier = str(form.get("code_verifier", ""))
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if request.headers.get("authorization") != f"Basic {basic}" or grant is None \
                    or grant["challenge"] != challenge or grant["redirect_uri"] != form.get("redirect_uri"):
                return Response({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {"iss": provider.issuer, "aud": "leadflow", "sub": provider.person, "exp": now + 600,
                      "iat": now, "roles": ["manager"], "teams": ["east"], "name": "李经理",
                      "nonce": grant["nonce"]}
            kid = public_jwk(provider.key.public_key())["kid"]
            signed = jwt.encode(claims, provider.key, algorithm="ES256", headers={"kid": kid})
            return Response({"access_token": signed, "id_token": signed, "token_type": "Bearer"})

        @get("/jwks")
        async def jwks() -> dict[str, Any]:
            return {"keys": [public_jwk(provider.key.public_key())]}

        return Litestar([discovery, authorize, token, jwks])


@pytest.fixture
def provider() -> Iterator[Provider]:
    port = procs.free_port(19500, [])
    found = Provider(port, f"mgr-{uuid.uuid4().hex[:6]}")
    server = uvicorn.Server(uvicorn.Config(found.app(), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield found
    server.should_exit = True
    thread.join(5)


@pytest.fixture
async def console(settings_env: dict[str, str], provider: Provider) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = ConsoleSettings(console_oidc_issuer=provider.issuer, console_oidc_client_id=CLIENT_ID,
                               console_oidc_client_secret=CLIENT_SECRET, staff_jwks_url=f"{provider.issuer}/jwks",
                               staff_issuer=provider.issuer, staff_public_key_file=None)
    async with AsyncTestClient(app=service.create_app(settings)) as client:
        yield client


async def test_the_company_sign_in_opens_a_session_with_the_providers_token(
        console: AsyncTestClient[Any], provider: Provider, settings_env: dict[str, str]) -> None:
    page = await console.get("/sign-in", headers={"Accept-Language": "en"})
    assert "Sign in with the company account" in page.text
    start = await console.get("/sign-in/sso?next=/manage/funnel", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(f"{provider.issuer}/authorize?")
    back = httpx.get(start.headers["location"], follow_redirects=False)  # the provider signs the person in
    callback = urlparse(back.headers["location"])
    done = await console.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/manage/funnel", done.text[:300]
    database = Database(settings_env["LEADFLOW_PG_DSN"], metadata, "/leadflow/console-test", pool_size=1)
    try:
        async with database.uow() as uow:
            row = (await uow.session.execute(select(sessions).where(sessions.c.person_id == provider.person))).one()
    finally:
        await database.dispose()
    assert row.via == "oidc" and row.roles == ["manager"] and row.teams == ["east"]
    assert jwt.decode(row.token, options={"verify_signature": False})["iss"] == provider.issuer


async def test_an_answer_that_is_not_this_sign_ins_is_refused(console: AsyncTestClient[Any],
                                                              provider: Provider) -> None:
    start = await console.get("/sign-in/sso", follow_redirects=False)
    back = httpx.get(start.headers["location"], follow_redirects=False)
    query = parse_qs(urlparse(back.headers["location"]).query)
    forged = await console.get(f"/sign-in/callback?code={query['code'][0]}&state=someone-elses",
                               headers={"Accept-Language": "en"})
    assert forged.status_code == 401 and "does not match this sign-in" in forged.text
    assert "lf_session" not in console.cookies
