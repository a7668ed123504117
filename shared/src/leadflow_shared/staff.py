"""Staff identity: reps, SDRs, managers and admins call staff endpoints with a JWT bearer token.

One verifier for every service (PyJWT, never by hand): the token's signature by a trusted key (a local
PEM, the local signing key's public half, or the company identity provider's JWKS), its algorithm among
the pinned asymmetric ones, its `exp`, `iss` and `aud`; its `sub` is the person, its roles and teams come
from claims whose names are settings (an IdP's own claims can be mapped). With no key configured every
staff call is refused: never open by default.

A handler declares who may call it with a guard, and takes the caller as a dependency:

    @post("/x", guards=[staff_roles(Role.manager, Role.admin)])
    async def f(self, staff: NamedDependency[Staff]) -> ...

Guards run before the body is parsed: no token is a 401 even with a bad body. Refusals carry their
reason in `detail`, in Chinese when `Accept-Language` prefers it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import anyio.to_thread
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from leadflow_shared.language import preferred_language
from leadflow_shared.logging import get_logger
from leadflow_shared.settings import LeadflowSettings

log = get_logger(__name__)

STATE_KEY = "leadflow_staff"  # the verified Staff on connection.state
VERIFIER_STATE_KEY = "staff_verifier"  # the app's StaffVerifier on app.state
SECURITY_SCHEME = "staffToken"  # the OpenAPI security scheme of staff endpoints


class Role(StrEnum):
    rep = "rep"
    sdr = "sdr"
    manager = "manager"
    admin = "admin"
    finance = "finance"  # finance staff and billing systems: payments and the figures they make


ROLE_ORDER = [r.value for r in Role]


@dataclass(frozen=True)
class Staff:
    """A verified caller: `id` is the token's `sub`."""

    id: str
    roles: frozenset[str]
    teams: frozenset[str]
    name: str | None = None

    def has(self, *roles: str) -> bool:
        """Whether the caller has any of these roles."""
        return any(str(role) in self.roles for role in roles)

    @property
    def is_admin(self) -> bool:
        return Role.admin in self.roles

    def manages(self, team_id: str) -> bool:
        """An admin manages every team; a manager the teams of their token."""
        return self.is_admin or (Role.manager in self.roles and team_id in self.teams)

    def require_team(self, team_id: str, language: str = "en") -> None:
        """403 (with its reason, in the caller's language) unless the caller manages the team."""
        if not self.manages(team_id):
            raise StaffForbidden(f"you do not manage team {team_id}", f"您不是团队 {team_id} 的管理者", language)


# ---- why a token is refused ------------------------------------------------------------------------

REASONS: dict[str, tuple[str, str]] = {
    "not_configured": ("staff identity not configured", "未配置员工身份认证"),
    "missing": ("a staff token is needed: Authorization: Bearer <token>", "需要员工令牌：Authorization: Bearer <令牌>"),
    "malformed": ("the token is not a well-formed JWT", "令牌不是格式正确的 JWT"),
    "expired": ("the token has expired", "令牌已过期"),
    "not_yet_valid": ("the token is not valid yet", "令牌尚未生效"),
    "algorithm": ("the token's signing algorithm is not accepted", "不接受该令牌的签名算法"),
    "unknown_key": ("the token was signed by a key that is not trusted", "令牌的签名密钥不受信任"),
    "bad_signature": ("the token's signature does not verify", "令牌签名校验失败"),
    "wrong_issuer": ("the token was issued by another issuer", "令牌的签发方不正确"),
    "wrong_audience": ("the token is meant for another audience", "令牌的受众不正确"),
    "missing_claim": ("the token lacks a required claim", "令牌缺少必需的声明"),
    "bad_claim": ("a claim of the token has the wrong form", "令牌的声明格式不正确"),
    "keys_unavailable": ("the identity provider's keys cannot be fetched now", "暂时无法获取身份提供方的公钥"),
}


class StaffAuthError(Exception):
    """Why a token was refused: `code` (a key of REASONS) and `reason` (English; `message(lang)` for zh)."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        self.code = code
        self.detail = detail
        self.reason = self.message("en")
        super().__init__(self.reason)

    def message(self, language: str = "en") -> str:
        en, zh = REASONS.get(self.code, REASONS["malformed"])
        text = zh if language == "zh" else en
        return f"{text}: {self.detail}" if self.detail else text


class StaffKeyMissing(Exception):
    """No signing key to issue a token with (`leadflow staff token`): one line saying what to do."""


class _Localized(HTTPException):
    """An HTTP refusal with its reason in each language; `staff_problem` answers in the caller's."""

    messages: Mapping[str, str]

    def __init__(self, en: str, zh: str, language: str = "en", headers: dict[str, str] | None = None) -> None:
        super().__init__(detail=zh if language == "zh" else en, headers=headers)
        self.messages = {"en": en, "zh": zh}


class StaffUnauthorized(_Localized, NotAuthorizedException):
    """401: no token, or one that does not verify."""


class StaffForbidden(_Localized, PermissionDeniedException):
    """403: a verified caller who may not do this."""


class StaffUnavailable(_Localized, ServiceUnavailableException):
    """503: the identity provider's keys cannot be had now (not the caller's fault)."""


def _unauthorized(error: StaffAuthError, language: str) -> HTTPException:
    if error.code == "keys_unavailable":
        return StaffUnavailable(error.message("en"), error.message("zh"), language, headers={"Retry-After": "5"})
    description = error.message("en").replace('"', "'").replace("\\", "/")
    challenge = f'Bearer realm="leadflow", error="invalid_token", error_description="{description}"'
    return StaffUnauthorized(error.message("en"), error.message("zh"), language,
                             headers={"WWW-Authenticate": challenge})


def staff_problem(request: Request[Any, Any, Any], exc: _Localized) -> Response[dict[str, Any]]:
    """A staff refusal as JSON `{status_code, detail}`, `detail` in the language the caller prefers."""
    language = preferred_language(request.headers.get("accept-language"))
    detail = exc.messages.get(language, exc.detail)
    return Response({"status_code": exc.status_code, "detail": detail}, status_code=exc.status_code,
                    headers=exc.headers)


STAFF_EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    StaffUnauthorized: staff_problem, StaffForbidden: staff_problem, StaffUnavailable: staff_problem,
}


# ---- keys -----------------------------------------------------------------------------------------

def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(public_key: Any, kid: str | None = None) -> dict[str, str]:
    """The JWK of a public key (RSA, EC or Ed25519), with its kid (RFC 7638 thumbprint unless given)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        members = {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}
        alg = "RS256"
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        numbers = public_key.public_numbers()
        size = (public_key.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[public_key.curve.name]
        coord = lambda n: base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()  # noqa: E731
        members = {"crv": crv, "kty": "EC", "x": coord(numbers.x), "y": coord(numbers.y)}
        alg = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[crv]
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        members = {"crv": "Ed25519", "kty": "OKP", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
        alg = "EdDSA"
    else:
        raise ValueError(f"not an RSA, EC or Ed25519 public key: {type(public_key).__name__}")
    thumbprint = hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode()).digest()
    kid = kid or base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()
    return {**members, "kid": kid, "use": "sig", "alg": alg}


def _family(public_key: Any) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "OKP"
    raise ValueError(f"not an RSA, EC or Ed25519 key: {type(public_key).__name__}")


def _algorithm_family(alg: str) -> str:
    return {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}.get(alg[:2], "?")


def _signing_algorithm(private_key: Any) -> str:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}[private_key.curve.name]
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise ValueError(f"not an RSA, EC or Ed25519 private key: {type(private_key).__name__}")


def load_private_key(path: Path) -> Any:
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def load_public_key(path: Path) -> Any:
    """A PEM public key, or the public half of a PEM private key."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        return serialization.load_pem_private_key(data, password=None).public_key()
    return serialization.load_pem_public_key(data)


def ensure_key_pair(private_path: Path, public_path: Path) -> bool:
    """An ES256 (P-256) key pair at these paths unless the private key exists; True when made now."""
    private_path, public_path = Path(private_path), Path(public_path)
    if private_path.exists():
        if not public_path.exists():
            public_path.parent.mkdir(parents=True, exist_ok=True)
            public_path.write_bytes(load_public_key(private_path).public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return False
    if public_path.exists():
        raise StaffKeyMissing(f"{public_path} exists without its private key {private_path}: remove it, "
                              f"or point LEADFLOW_STAFF_SIGNING_KEY_FILE at that private key")
    key = ec.generate_private_key(ec.SECP256R1())
    private_path.parent.mkdir(parents=True, exist_ok=True)
    private_path.touch(mode=0o600)
    private_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return True


@dataclass(frozen=True)
class _TrustedKey:
    kid: str
    family: str
    key: Any  # a cryptography public key


# ---- verification ---------------------------------------------------------------------------------

def _claim(claims: Mapping[str, Any], name: str) -> Any:
    """The claim named so; else, for a dotted name, the value at that path (`realm_access.roles`)."""
    if name in claims:
        return claims[name]
    node: Any = claims
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _strings(value: Any, claim: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(v for v in re.split(r"[\s,]+", value) if v)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int)) for v in value):
        return frozenset(str(v) for v in value if str(v))
    raise StaffAuthError("bad_claim", claim)


class StaffVerifier:
    """Verifies staff tokens under the settings' keys, algorithms, issuer, audience and claim names."""

    def __init__(self, settings: LeadflowSettings, jwks_client: jwt.PyJWKClient | None = None) -> None:
        self.issuer = settings.staff_issuer
        self.audience = settings.staff_audience
        self.algorithms = tuple(settings.staff_algorithms)
        self.leeway = settings.staff_leeway_s
        self.roles_claim = settings.staff_roles_claim
        self.teams_claim = settings.staff_teams_claim
        self.name_claim = settings.staff_name_claim
        self.keys: list[_TrustedKey] = []
        self.problem: str | None = None
        for path in (settings.staff_public_key_file, settings.staff_signing_key_file):
            if path is None:
                continue
            try:
                key = load_public_key(path)
                self.keys.append(_TrustedKey(public_jwk(key)["kid"], _family(key), key))
            except (OSError, ValueError, TypeError) as exc:  # fail closed: every staff call is refused
                self.problem = f"staff key {path} unusable: {exc}"
        self.jwks = jwks_client
        if self.jwks is None and settings.staff_jwks_url:
            self.jwks = _jwks_client(settings.staff_jwks_url, settings.staff_jwks_cache_s,
                                     settings.staff_jwks_min_refetch_s)
        if self.problem:
            log.error("staff identity refuses every token", problem=self.problem)
        elif not self.configured:
            log.warning("staff identity not configured: every staff call is refused (set "
                        "LEADFLOW_STAFF_PUBLIC_KEY_FILE or LEADFLOW_STAFF_JWKS_URL)")

    @property
    def configured(self) -> bool:
        return self.problem is None and bool(self.keys or self.jwks)

    @property
    def fetches(self) -> bool:
        """Whether verifying may fetch keys over the network (then it runs off the event loop)."""
        return self.jwks is not None

    def verify(self, token: str | None) -> Staff:
        """The caller a token names; StaffAuthError says why it is refused."""
        if not self.configured:
            raise StaffAuthError("not_configured")
        if not token:
            raise StaffAuthError("missing")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise StaffAuthError("malformed") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise StaffAuthError("algorithm", str(alg))
        claims = self._decode(token, alg, self._candidates(header, alg))
        return self._staff(claims)

    def _candidates(self, header: Mapping[str, Any], alg: str) -> list[Any]:
        family, kid = _algorithm_family(alg), header.get("kid")
        local = [k for k in self.keys if k.family == family]
        named = [k.key for k in local if kid is not None and k.kid == kid]
        if named:
            return named
        if self.jwks is not None:
            try:
                if kid is not None:
                    jwk = self.jwks.get_signing_key(str(kid))
                    found = [jwk] if _jwk_fits(jwk, family, alg) else []
                else:
                    found = [j for j in self.jwks.get_signing_keys() if _jwk_fits(j, family, alg)]
            except jwt.PyJWKClientConnectionError as exc:
                log.warning("identity provider's keys not fetched", error=str(exc))
                raise StaffAuthError("keys_unavailable") from exc
            except jwt.PyJWKClientError:
                found = []
            if found:
                return [j.key for j in found]
        if local and (kid is None or self.jwks is None):
            return [k.key for k in local]
        raise StaffAuthError("unknown_key")

    def _decode(self, token: str, alg: str, keys: Sequence[Any]) -> dict[str, Any]:
        for i, key in enumerate(keys):
            try:
                return jwt.decode(token, key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                                  leeway=self.leeway, options={"require": ["exp", "sub"]})
            except jwt.InvalidSignatureError as exc:
                if i == len(keys) - 1:
                    raise StaffAuthError("bad_signature") from exc
            except jwt.ExpiredSignatureError as exc:
                raise StaffAuthError("expired") from exc
            except jwt.ImmatureSignatureError as exc:
                raise StaffAuthError("not_yet_valid") from exc
            except jwt.InvalidAudienceError as exc:
                raise StaffAuthError("wrong_audience") from exc
            except jwt.InvalidIssuerError as exc:
                raise StaffAuthError("wrong_issuer") from exc
            except jwt.MissingRequiredClaimError as exc:
                raise StaffAuthError("missing_claim", exc.claim) from exc
            except jwt.InvalidAlgorithmError as exc:
                raise StaffAuthError("algorithm", alg) from exc
            except (jwt.InvalidKeyError, jwt.PyJWKError) as exc:
                raise StaffAuthError("unknown_key") from exc
            except jwt.InvalidTokenError as exc:  # undecodable, or a claim of the wrong type
                raise StaffAuthError("malformed") from exc
        raise StaffAuthError("unknown_key")

    def _staff(self, claims: Mapping[str, Any]) -> Staff:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise StaffAuthError("missing_claim", "sub")
        roles = frozenset(r.lower() for r in _strings(_claim(claims, self.roles_claim), self.roles_claim))
        teams = _strings(_claim(claims, self.teams_claim), self.teams_claim)
        name = _claim(claims, self.name_claim) or claims.get("preferred_username")
        return Staff(subject, roles, teams, name if isinstance(name, str) else None)

    async def verify_async(self, token: str | None) -> Staff:
        """`verify` off the event loop when it may fetch the identity provider's keys."""
        if self.fetches:
            return await anyio.to_thread.run_sync(self.verify, token)
        return self.verify(token)


def _jwk_fits(jwk: jwt.PyJWK, family: str, alg: str) -> bool:
    """A JWK of the token's key type, whose declared `alg` (if any) is the token's."""
    data = getattr(jwk, "_jwk_data", None)
    declared = data.get("alg") if isinstance(data, dict) else None
    return jwk.key_type == family and declared in (None, alg)


def _jwks_client(url: str, cache_s: float, min_refetch_s: float) -> jwt.PyJWKClient:
    import inspect

    options: dict[str, Any] = {"cache_keys": True, "lifespan": cache_s, "timeout": 5}
    if "cooldown_duration" in inspect.signature(jwt.PyJWKClient.__init__).parameters:
        options["cooldown_duration"] = min_refetch_s
    return jwt.PyJWKClient(url, **options)


# ---- the guard and the dependency -----------------------------------------------------------------

def verifier_of(app: Any) -> StaffVerifier:
    """The app's verifier (Service.create_app makes it from the service's settings)."""
    verifier = app.state.get(VERIFIER_STATE_KEY)
    if verifier is None:
        verifier = StaffVerifier(LeadflowSettings())
        app.state[VERIFIER_STATE_KEY] = verifier
    return verifier  # type: ignore[no-any-return]


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Staff:
    """The caller of this request (verified once per request); 401 (503) with the reason otherwise."""
    known = connection.state.get(STATE_KEY)
    if isinstance(known, Staff):
        return known
    try:
        staff = await verifier_of(connection.app).verify_async(_bearer(connection))
    except StaffAuthError as exc:
        raise _unauthorized(exc, preferred_language(connection.headers.get("accept-language"))) from None
    connection.state[STATE_KEY] = staff
    return staff


def _ordered(roles: Iterable[str]) -> list[str]:
    return sorted(roles, key=lambda r: (ROLE_ORDER.index(r) if r in ROLE_ORDER else len(ROLE_ORDER), r))


@dataclass(frozen=True)
class StaffGuard:
    """A litestar guard admitting staff with any of `roles`; see `staff_roles`."""

    roles: frozenset[str]

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        staff = await authenticate(connection)
        if not staff.has(*self.roles):
            needed = ", ".join(_ordered(self.roles))
            raise StaffForbidden(f"this needs one of the roles: {needed}", f"需要以下角色之一：{needed}",
                                 preferred_language(connection.headers.get("accept-language")))


def staff_roles(*roles: Role | str) -> Guard:
    """A guard: a valid staff token (else 401 with the reason) of a caller with any of `roles` (else 403)."""
    if not roles:
        raise ValueError("name at least one role")
    unknown = [str(r) for r in roles if str(r) not in ROLE_ORDER]
    if unknown:
        raise ValueError(f"unknown roles {unknown}: one of {ROLE_ORDER}")
    return StaffGuard(frozenset(str(r) for r in roles))


def admitted_roles(handler: BaseRouteHandler) -> frozenset[str] | None:
    """The roles a handler admits (every staff guard of its layers must pass), or None without one."""
    admitted: frozenset[str] | None = None
    for layer in handler.ownership_layers:
        for guard in getattr(layer, "guards", None) or ():
            if isinstance(guard, StaffGuard):
                admitted = guard.roles if admitted is None else admitted & guard.roles
    return admitted


async def provide_staff(request: Request[Any, Any, Any]) -> Staff:
    """The verified caller (the guard put it on the request; verified here when no guard did)."""
    return await authenticate(request)


def staff_dependency() -> Provide:
    return Provide(provide_staff)


def _automatic_options(handler: BaseRouteHandler) -> bool:
    return (getattr(handler, "http_methods", None) == {"OPTIONS"}
            and getattr(handler.fn, "__name__", "") == "options_handler" and not handler.include_in_schema)


def mark_handlers(app: Any, public_paths: Sequence[str] = ()) -> None:
    """Record on each handler of the app who may call it: `opt["auth"]` (staff, and `opt["staff_roles"]`,
    from its guards; public under `public_paths`) and the OpenAPI security of staff operations."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            roles = admitted_roles(handler)
            if roles is not None:
                handler.opt["auth"] = "staff"
                handler.opt["staff_roles"] = _ordered(roles)
                if not handler.security:
                    handler.security = [{SECURITY_SCHEME: _ordered(roles)}]
            elif "auth" not in handler.opt and _automatic_options(handler):
                handler.opt["auth"] = "public"  # litestar's own OPTIONS answer: the path's methods, no data
            elif "auth" not in handler.opt and any(route.path == p or route.path.startswith(p.rstrip("/") + "/")
                                                   for p in public_paths):
                handler.opt["auth"] = "public"


# ---- issuing (local) ------------------------------------------------------------------------------

def parse_ttl(text: str) -> timedelta:
    """`8h`, `30m`, `2d`, `90s` or plain seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not found:
        raise ValueError(f"not a duration: {text!r} (e.g. 8h, 30m, 2d)")
    value, unit = float(found.group(1)), found.group(2) or "s"
    ttl = timedelta(seconds=value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])
    if ttl <= timedelta(0):
        raise ValueError("a token must live a while")
    return ttl


def _set_claim(claims: dict[str, Any], name: str, value: Any) -> None:
    """`realm_access.roles` nests; a plain or URL-like name (`https://example.cn/roles`) does not."""
    *parents, last = name.split(".") if "." in name and "://" not in name else [name]
    node = claims
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def issue_token(settings: LeadflowSettings, user: str, roles: list[str], teams: list[str], ttl: timedelta,
                name: str | None = None) -> str:
    """A staff token signed with the local signing key (LEADFLOW_STAFF_SIGNING_KEY_FILE)."""
    path = settings.staff_signing_key_file
    if path is None:
        raise StaffKeyMissing("no staff signing key: set LEADFLOW_STAFF_SIGNING_KEY_FILE, or run "
                              "`leadflow staff keygen` (`leadflow stack up` makes one)")
    try:
        key = load_private_key(path)
    except FileNotFoundError:
        raise StaffKeyMissing(f"the staff signing key {path} does not exist: run `leadflow staff keygen` "
                              "(or `leadflow stack up`)") from None
    except (OSError, ValueError, TypeError) as exc:
        raise StaffKeyMissing(f"the staff signing key {path} is not a usable PEM private key: {exc}") from None
    unknown = [r for r in roles if r not in ROLE_ORDER]
    if unknown or not roles:
        raise ValueError(f"roles are among {', '.join(ROLE_ORDER)}; got {roles}")
    if not user.strip():
        raise ValueError("a token names its user")
    alg = _signing_algorithm(key)
    if alg not in settings.staff_algorithms:
        raise StaffKeyMissing(f"the signing key makes {alg} tokens, which LEADFLOW_STAFF_ALGORITHMS "
                              f"({', '.join(settings.staff_algorithms)}) does not accept")
    now = int(time.time())
    claims: dict[str, Any] = {"iss": settings.staff_issuer, "aud": settings.staff_audience, "sub": user,
                              "iat": now, "exp": now + int(ttl.total_seconds()), "jti": secrets.token_hex(8)}
    _set_claim(claims, settings.staff_roles_claim, [str(r) for r in roles])
    _set_claim(claims, settings.staff_teams_claim, list(teams))
    if name:
        _set_claim(claims, settings.staff_name_claim, name)
    kid = public_jwk(key.public_key())["kid"]
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})


def expires_at(token: str) -> datetime:
    """When a token (already trusted) expires."""
    return datetime.fromtimestamp(jwt.decode(token, options={"verify_signature": False})["exp"], UTC)


__all__ = [
    "Role", "Staff", "StaffAuthError", "StaffForbidden", "StaffKeyMissing", "StaffUnauthorized", "StaffVerifier",
    "admitted_roles", "ensure_key_pair", "issue_token", "mark_handlers", "provide_staff", "public_jwk",
    "staff_dependency", "staff_roles",
]
