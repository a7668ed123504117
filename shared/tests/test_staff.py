"""The staff verifier: which tokens pass (local keys, a JWKS that rotates) and why the others are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar.exceptions import PermissionDeniedException

from leadflow_shared import cli_errors
from leadflow_shared.settings import LeadflowSettings
from leadflow_shared.staff import (
    Role,
    Staff,
    StaffAuthError,
    StaffKeyMissing,
    StaffVerifier,
    ensure_key_pair,
    issue_token,
    parse_ttl,
    public_jwk,
    staff_roles,
)


@pytest.fixture(autouse=True)
def no_staff_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shell's LEADFLOW_STAFF_* (a sourced .local/env) must not decide what these tests see."""
    import os

    for name in [n for n in os.environ if n.startswith("LEADFLOW_STAFF_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "signing-key.pem", tmp_path / "public-key.pem"
    assert ensure_key_pair(private, public)
    assert not ensure_key_pair(private, public)  # kept
    return private, public


@pytest.fixture
def settings(keys: tuple[Path, Path]) -> LeadflowSettings:
    """Services verify with the public key; `leadflow staff token` signs with the private one."""
    return LeadflowSettings(staff_signing_key_file=keys[0], staff_public_key_file=keys[1])


@pytest.fixture
def verifier(keys: tuple[Path, Path]) -> StaffVerifier:
    return StaffVerifier(LeadflowSettings(staff_public_key_file=keys[1]))


def _private(path: Path) -> Any:
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": "leadflow", "aud": "leadflow", "sub": "rep-wang", "iat": now, "exp": now + 600,
              "roles": ["rep"], "teams": ["east"]}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _refused(verifier: StaffVerifier, token: str | None) -> str:
    with pytest.raises(StaffAuthError) as caught:
        verifier.verify(token)
    assert caught.value.reason and caught.value.message("zh") != caught.value.reason
    return caught.value.code


def test_a_good_token_names_the_person_their_roles_and_teams(settings: LeadflowSettings,
                                                             verifier: StaffVerifier) -> None:
    token = issue_token(settings, "mgr-li", ["manager", "rep"], ["east", "north"], timedelta(hours=8), name="李娜")
    staff = verifier.verify(token)
    assert staff == Staff("mgr-li", frozenset({"manager", "rep"}), frozenset({"east", "north"}), "李娜")
    assert staff.has(Role.manager, Role.admin) and not staff.has("sdr") and not staff.is_admin
    assert staff.manages("east") and not staff.manages("south")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"


def test_the_signing_keys_public_half_verifies_too(settings: LeadflowSettings, keys: tuple[Path, Path]) -> None:
    only_private = StaffVerifier(LeadflowSettings(staff_signing_key_file=keys[0]))
    assert only_private.verify(issue_token(settings, "u", ["admin"], [], timedelta(minutes=5))).is_admin


def test_missing_and_malformed_tokens_are_refused(verifier: StaffVerifier) -> None:
    assert _refused(verifier, None) == "missing"
    assert _refused(verifier, "") == "missing"
    assert _refused(verifier, "not-a-token") == "malformed"
    assert _refused(verifier, "a.b.c") == "malformed"


def test_an_expired_token_is_refused_past_the_leeway(keys: tuple[Path, Path], verifier: StaffVerifier) -> None:
    now = int(time.time())
    key = _private(keys[0])
    assert verifier.verify(jwt.encode(_claims(exp=now - 10), key, algorithm="ES256"))  # within 30 s of leeway
    assert _refused(verifier, jwt.encode(_claims(exp=now - 120), key, algorithm="ES256")) == "expired"
    assert _refused(verifier, jwt.encode(_claims(nbf=now + 600), key, algorithm="ES256")) == "not_yet_valid"


def test_a_token_signed_by_another_key_is_refused(verifier: StaffVerifier) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    assert _refused(verifier, jwt.encode(_claims(), other, algorithm="ES256")) == "bad_signature"
    # claiming our key's kid changes nothing
    kid = next(iter(verifier.keys)).kid
    assert _refused(verifier, jwt.encode(_claims(), other, algorithm="ES256", headers={"kid": kid})) == "bad_signature"


def test_wrong_issuer_audience_or_claims_are_refused(keys: tuple[Path, Path], verifier: StaffVerifier) -> None:
    key = _private(keys[0])
    assert _refused(verifier, jwt.encode(_claims(iss="https://evil.example"), key, algorithm="ES256")) == "wrong_issuer"
    assert _refused(verifier, jwt.encode(_claims(aud="crm"), key, algorithm="ES256")) == "wrong_audience"
    assert _refused(verifier, jwt.encode(_claims(iss=None), key, algorithm="ES256")) == "missing_claim"
    assert _refused(verifier, jwt.encode(_claims(exp=None), key, algorithm="ES256")) == "missing_claim"
    assert _refused(verifier, jwt.encode(_claims(sub=None), key, algorithm="ES256")) == "missing_claim"
    assert _refused(verifier, jwt.encode(_claims(roles={"a": 1}), key, algorithm="ES256")) == "bad_claim"


def test_alg_none_is_refused(verifier: StaffVerifier) -> None:
    unsigned = jwt.encode(_claims(roles=["admin"]), None, algorithm="none")
    assert _refused(verifier, unsigned) == "algorithm"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_hs256_with_the_public_key_as_secret_is_refused(keys: tuple[Path, Path], tmp_path: Path) -> None:
    """Algorithm confusion: whoever has the public key must not be able to sign with it as an HMAC secret."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "rsa.pem").write_bytes(public_pem)
    verifier = StaffVerifier(LeadflowSettings(staff_public_key_file=tmp_path / "rsa.pem"))
    assert verifier.verify(jwt.encode(_claims(), private, algorithm="RS256")).id == "rep-wang"
    for pem in (public_pem, keys[1].read_bytes()):
        signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}." \
                        f"{_b64(json.dumps(_claims(roles=['admin'])).encode())}"
        forged = f"{signing_input}.{_b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"
        assert _refused(verifier, forged) == "algorithm"
    with pytest.raises(ValueError, match="HS256 not accepted"):
        LeadflowSettings(staff_algorithms="HS256,ES256")


def test_an_algorithm_outside_the_settings_is_refused(keys: tuple[Path, Path]) -> None:
    only_rsa = StaffVerifier(LeadflowSettings(staff_public_key_file=keys[1], staff_algorithms="RS256"))
    assert _refused(only_rsa, jwt.encode(_claims(), _private(keys[0]), algorithm="ES256")) == "algorithm"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _refused(StaffVerifier(LeadflowSettings(staff_public_key_file=keys[1])),  # no RSA key is trusted
                    jwt.encode(_claims(), rsa_key, algorithm="RS256")) == "unknown_key"


def test_without_a_key_every_token_is_refused(settings: LeadflowSettings, tmp_path: Path) -> None:
    token = issue_token(settings, "u", ["admin"], [], timedelta(minutes=5))
    assert _refused(StaffVerifier(LeadflowSettings()), token) == "not_configured"
    assert StaffAuthError("not_configured").reason == "staff identity not configured"
    missing = StaffVerifier(LeadflowSettings(staff_public_key_file=tmp_path / "nowhere.pem"))
    assert _refused(missing, token) == "not_configured"


def test_an_identity_providers_claims_are_mapped(keys: tuple[Path, Path]) -> None:
    verifier = StaffVerifier(LeadflowSettings(
        staff_public_key_file=keys[1], staff_issuer="https://sso.example.cn/realms/sales", staff_audience="leadflow-api",
        staff_roles_claim="realm_access.roles", staff_teams_claim="groups"))
    token = jwt.encode({**_claims(iss="https://sso.example.cn/realms/sales", aud=["leadflow-api", "account"],
                                  roles=None, teams=None),
                        "realm_access": {"roles": ["Manager", "offline_access"]}, "groups": "east north",
                        "preferred_username": "li.na"}, _private(keys[0]), algorithm="ES256")
    staff = verifier.verify(token)
    assert staff.roles == {"manager", "offline_access"} and staff.teams == {"east", "north"}
    assert staff.name == "li.na" and staff.manages("north")


def test_require_team_refuses_with_a_reason_in_the_callers_language() -> None:
    manager = Staff("mgr", frozenset({"manager"}), frozenset({"east"}))
    manager.require_team("east")
    with pytest.raises(PermissionDeniedException) as caught:
        manager.require_team("west", "zh")
    assert caught.value.status_code == 403 and "west" in caught.value.detail and "团队" in caught.value.detail
    Staff("root", frozenset({"admin"}), frozenset()).require_team("anything")
    with pytest.raises(PermissionDeniedException, match="you do not manage team east"):
        Staff("rep", frozenset({"rep"}), frozenset({"east"})).require_team("east")


def test_roles_are_checked_when_a_guard_is_declared() -> None:
    assert staff_roles(Role.manager, "admin").roles == {"manager", "admin"}  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        staff_roles("boss")
    with pytest.raises(ValueError):
        staff_roles()


def test_issuing_without_a_key_is_one_line(tmp_path: Path) -> None:
    for settings in (LeadflowSettings(), LeadflowSettings(staff_signing_key_file=tmp_path / "none.pem")):
        with pytest.raises(StaffKeyMissing) as caught:
            issue_token(settings, "u", ["rep"], [], timedelta(hours=1))
        line = cli_errors.describe(caught.value)
        assert line and "\n" not in line and "leadflow staff keygen" in line


def test_token_lifetimes() -> None:
    assert parse_ttl("8h") == timedelta(hours=8) and parse_ttl("30m") == timedelta(minutes=30)
    assert parse_ttl("2d") == timedelta(days=2) and parse_ttl("90") == timedelta(seconds=90)
    for bad in ("soon", "0", "-1h"):
        with pytest.raises(ValueError):
            parse_ttl(bad)


# ---- an identity provider's JWKS ------------------------------------------------------------------

class _Jwks:
    """A tiny identity provider: serves `keys` as a JWK set and counts the fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, str]] = []
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                jwks.fetches += 1
                body = json.dumps({"keys": jwks.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/realms/sales/protocol/openid-connect/certs"

    def add(self, private_key: Any, kid: str) -> None:
        self.keys.append(public_jwk(private_key.public_key(), kid))


@pytest.fixture
def idp() -> Iterator[_Jwks]:
    provider = _Jwks()
    thread = threading.Thread(target=provider.server.serve_forever, daemon=True)
    thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()
    thread.join(5)


def test_keys_come_from_the_identity_providers_jwks_and_a_rotated_kid_is_fetched(idp: _Jwks) -> None:
    first, second = ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(public_exponent=65537,
                                                                                        key_size=2048)
    idp.add(first, "2026-11")
    verifier = StaffVerifier(LeadflowSettings(staff_jwks_url=idp.url, staff_jwks_min_refetch_s=0))
    assert verifier.verify(jwt.encode(_claims(), first, algorithm="ES256", headers={"kid": "2026-11"})).id == "rep-wang"
    assert verifier.verify(jwt.encode(_claims(sub="sdr-zhao"), first, algorithm="ES256",
                                      headers={"kid": "2026-11"})).id == "sdr-zhao"
    assert idp.fetches == 1  # cached

    idp.keys = []  # the provider rotates: a new key, the old one retired
    idp.add(second, "2026-12")
    token = jwt.encode(_claims(sub="mgr-li"), second, algorithm="RS256", headers={"kid": "2026-12"})
    assert verifier.verify(token).id == "mgr-li"
    assert idp.fetches == 2

    stranger = ec.generate_private_key(ec.SECP256R1())
    assert _refused(verifier, jwt.encode(_claims(), stranger, algorithm="ES256", headers={"kid": "made-up"})) \
        == "unknown_key"
    # a kid of the set with a key that is not the one that signed
    assert _refused(verifier, jwt.encode(_claims(), stranger, algorithm="ES256",
                                         headers={"kid": "2026-12"})) == "unknown_key"


def test_unknown_kids_do_not_hammer_the_identity_provider(idp: _Jwks) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    idp.add(key, "k1")
    verifier = StaffVerifier(LeadflowSettings(staff_jwks_url=idp.url, staff_jwks_min_refetch_s=60))
    assert verifier.verify(jwt.encode(_claims(), key, algorithm="ES256", headers={"kid": "k1"}))
    for i in range(5):
        assert _refused(verifier, jwt.encode(_claims(), key, algorithm="ES256", headers={"kid": f"x{i}"})) \
            == "unknown_key"
    assert idp.fetches == 1


def test_an_identity_provider_that_does_not_answer_is_unavailable_not_unauthorized(idp: _Jwks) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    url = idp.url
    idp.server.shutdown()
    idp.server.server_close()
    verifier = StaffVerifier(LeadflowSettings(staff_jwks_url=url))
    assert _refused(verifier, jwt.encode(_claims(), key, algorithm="ES256", headers={"kid": "k"})) == "keys_unavailable"
