"""`leadflow staff token|keygen|jwks`: staff tokens signed with the local key (the local stack's, or
LEADFLOW_STAFF_SIGNING_KEY_FILE), for development, tests and operators without an identity provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from leadflow_shared.localenv import local_dir
from leadflow_shared.settings import LeadflowSettings
from leadflow_shared.staff import (
    Role,
    StaffKeyMissing,
    ensure_key_pair,
    expires_at,
    issue_token,
    load_public_key,
    parse_ttl,
    public_jwk,
)

app = typer.Typer(help="Staff identity: tokens for reps, SDRs, managers and admins (JWT).", no_args_is_help=True)


def default_key_files() -> tuple[Path, Path]:
    """Where the local stack keeps its pair: .local/staff/signing-key.pem and public-key.pem."""
    return local_dir() / "staff" / "signing-key.pem", local_dir() / "staff" / "public-key.pem"


def _settings() -> LeadflowSettings:
    """The settings; without LEADFLOW_STAFF_SIGNING_KEY_FILE, the local stack's key when it exists."""
    settings = LeadflowSettings()
    private, public = default_key_files()
    if settings.staff_signing_key_file is None and private.exists():
        settings.staff_signing_key_file = private
    return settings


def _ttl(text: str) -> str:
    try:
        parse_ttl(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return text


@app.command("token")
def token(
    user: Annotated[str, typer.Option("--user", help="Who the token is for (its `sub`), e.g. rep-wang")],
    role: Annotated[list[Role], typer.Option("--role", help="A role (repeat for more)")],
    team: Annotated[list[str] | None, typer.Option("--team", help="A team the person belongs to or manages "
                                                               "(repeat for more)")] = None,
    ttl: Annotated[str, typer.Option("--ttl", callback=_ttl, help="Lifetime: 8h, 30m, 2d, 90s")] = "8h",
    name: Annotated[str | None, typer.Option("--name", help="Display name")] = None,
) -> None:
    """Print a staff token signed with the local key: use it as `Authorization: Bearer <token>`."""
    issued = issue_token(_settings(), user, [r.value for r in role], list(team or []), parse_ttl(ttl), name=name)
    typer.echo(f"token for {user} ({', '.join(r.value for r in role)}), valid until "
               f"{expires_at(issued):%Y-%m-%d %H:%M} UTC:", err=True)
    print(issued)


@app.command("keygen")
def keygen(
    directory: Annotated[Path | None, typer.Option("--dir", file_okay=False,
                                                   help="Where to write them (default: .local/staff/)")] = None,
) -> None:
    """Write an ES256 key pair unless one exists (`leadflow stack up` does it): the private key signs
    `leadflow staff token`s, the public one verifies them."""
    settings = LeadflowSettings()
    private, public = default_key_files()
    if directory is not None:
        private, public = directory / private.name, directory / public.name
    else:
        private = settings.staff_signing_key_file or private
        public = settings.staff_public_key_file or (private.parent / public.name if settings.staff_signing_key_file
                                                    else public)
    made = ensure_key_pair(private, public)
    typer.echo(f"{'wrote' if made else 'kept the existing'} key pair: {private} (private), {public} (public)")
    typer.echo(f"services verify with:  export LEADFLOW_STAFF_PUBLIC_KEY_FILE={public}")
    typer.echo(f"`leadflow staff token` signs with:  export LEADFLOW_STAFF_SIGNING_KEY_FILE={private}")


@app.command("jwks")
def jwks() -> None:
    """Print the JWK set of the local keys (what an identity provider serves at its JWKS URL)."""
    settings = _settings()
    paths = [p for p in (settings.staff_public_key_file, settings.staff_signing_key_file) if p is not None]
    if not paths:
        raise StaffKeyMissing("no staff key: set LEADFLOW_STAFF_PUBLIC_KEY_FILE, or run `leadflow staff keygen`")
    keys = {}
    for path in paths:
        try:
            jwk = public_jwk(load_public_key(path))
        except FileNotFoundError:
            raise StaffKeyMissing(f"the staff key {path} does not exist: run `leadflow staff keygen`") from None
        keys[jwk["kid"]] = jwk
    print(json.dumps({"keys": list(keys.values())}, indent=2))
