"""The `leadflow` command: finds the stack through `.local/env`; what does not answer is one line, exit 1."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leadflow_shared import cli_errors

LEADFLOW = Path(sys.executable).parent / "leadflow"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections (bound, never listening: no one else can take it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _dsn(port: int) -> str:
    return f"postgresql+asyncpg://leadflow:leadflow@127.0.0.1:{port}/leadflow"


def _leadflow(*args: str, local_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    return subprocess.run([str(LEADFLOW), *args], capture_output=True, text=True, timeout=120, cwd=local_dir.parent,
                          env={**base, "LEADFLOW_LOCAL_DIR": str(local_dir), **env})


def _local_env(tmp_path: Path, port: int) -> Path:
    """A `.local/` whose env file (as `leadflow stack up` writes it) points at `port`."""
    local = tmp_path / "local"
    local.mkdir()
    (local / "env").write_text(f"export LEADFLOW_PG_DSN={_dsn(port)}\n")
    return local


def test_postgres_that_does_not_answer_is_one_line_and_exit_1(tmp_path: Path, closed_port: int) -> None:
    with socket.socket() as other:  # .local/env names another port: the variable wins
        other.bind(("127.0.0.1", 0))
        local = _local_env(tmp_path, other.getsockname()[1])
        done = _leadflow("partners", "list", local_dir=local, LEADFLOW_PG_DSN=_dsn(closed_port))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"✗ Postgres at 127.0.0.1:{closed_port} does not answer: start the local stack with `leadflow stack up` "
        "(or `make demo`), or set LEADFLOW_PG_DSN")
    assert "Traceback" not in done.stdout + done.stderr


def test_the_command_reads_local_env_when_the_variable_is_not_set(tmp_path: Path, closed_port: int) -> None:
    done = _leadflow("partners", "list", local_dir=_local_env(tmp_path, closed_port))
    assert done.returncode == 1 and f"Postgres at 127.0.0.1:{closed_port} does not answer" in done.stderr


def test_a_service_api_that_does_not_answer(tmp_path: Path, closed_port: int) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("name,mobile\nZhang Wei,+8613800138000\n")
    done = _leadflow("import", str(leads), "--key", "k", "--url", f"http://127.0.0.1:{closed_port}",
                     local_dir=tmp_path / "local")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith(f"✗ http://127.0.0.1:{closed_port} does not answer")


def _raised(make) -> BaseException:  # type: ignore[no-untyped-def]
    """What `make()` raises, with the traceback it was raised with."""
    try:
        make()
    except Exception as exc:
        return exc
    raise AssertionError("it answered")


def _throw(exc: BaseException) -> None:
    raise exc


def test_intake_at_its_port_is_named_with_what_to_run() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:8001/v1/imports")
    exc = _raised(lambda: _throw(httpx.ConnectError("[Errno 111] Connection refused", request=request)))
    assert cli_errors.describe(exc) == ("intake at http://127.0.0.1:8001 does not answer: "
                                         "run `leadflow services up intake`")


def test_kafka_that_does_not_answer(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadflow_shared.kafka import ensure_topics

    monkeypatch.setenv("LEADFLOW_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed_port}")
    exc = _raised(lambda: asyncio.run(ensure_topics(f"127.0.0.1:{closed_port}", prefix="", partitions=1)))
    assert cli_errors.describe(exc) == (
        f"Kafka at 127.0.0.1:{closed_port} does not answer: start the local stack with `leadflow stack up` "
        "(or `make demo`), or set LEADFLOW_KAFKA_BOOTSTRAP")


def test_temporal_that_does_not_answer(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from temporalio.client import Client

    monkeypatch.setenv("LEADFLOW_TEMPORAL_ADDRESS", f"127.0.0.1:{closed_port}")
    exc = _raised(lambda: asyncio.run(Client.connect(f"127.0.0.1:{closed_port}")))
    assert cli_errors.describe(exc) == (
        f"Temporal at 127.0.0.1:{closed_port} does not answer: start the local stack with `leadflow stack up` "
        "(or `make demo`), or set LEADFLOW_TEMPORAL_ADDRESS")


def test_other_errors_keep_their_traceback(closed_port: int) -> None:
    assert cli_errors.describe(ValueError("a bug")) is None

    def plain_socket() -> None:  # refused, but not by a client of Postgres, Kafka or Temporal
        with socket.create_connection(("127.0.0.1", closed_port), timeout=1):
            pass

    assert cli_errors.describe(_raised(plain_socket)) is None


def test_a_service_whose_tables_are_not_there_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    from asyncpg.exceptions import UndefinedTableError

    monkeypatch.setenv("LEADFLOW_PG_DSN", "postgresql+asyncpg://leadflow:leadflow@127.0.0.1:55432/leadflow")
    exc = _raised(lambda: _throw(UndefinedTableError('relation "intake.partners" does not exist')))
    assert cli_errors.describe(exc) == (
        "intake's tables are not in the database at 127.0.0.1:55432: run `leadflow intake migrate` "
        "(or `leadflow services up intake`, which migrates)")
    unknown = _raised(lambda: _throw(UndefinedTableError('relation "nobody.things" does not exist')))
    assert cli_errors.describe(unknown) is None


def test_staff_tokens_come_from_the_local_key_and_without_one_the_error_is_one_line(tmp_path: Path) -> None:
    from leadflow_shared.settings import LeadflowSettings
    from leadflow_shared.staff import StaffVerifier

    local = tmp_path / "local"
    local.mkdir()
    missing = _leadflow("staff", "token", "--user", "rep-wang", "--role", "rep", local_dir=local)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().startswith("✗ no staff signing key") and "leadflow staff keygen" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1

    made = _leadflow("staff", "keygen", local_dir=local)
    assert made.returncode == 0, made.stderr
    issued = _leadflow("staff", "token", "--user", "mgr-li", "--role", "manager", "--role", "rep", "--team", "east",
                       "--ttl", "30m", "--name", "李娜", local_dir=local)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert len(issued.stdout.strip().splitlines()) == 1  # the token alone on stdout
    staff = StaffVerifier(LeadflowSettings(staff_public_key_file=local / "staff" / "public-key.pem")).verify(token)
    assert (staff.id, staff.roles, staff.teams, staff.name) == ("mgr-li", {"manager", "rep"}, {"east"}, "李娜")

    again = _leadflow("staff", "keygen", local_dir=local)  # kept: tokens already given stay valid
    assert "kept the existing key pair" in again.stdout
    assert StaffVerifier(LeadflowSettings(staff_public_key_file=local / "staff" / "public-key.pem")).verify(token)
    unknown = _leadflow("staff", "token", "--user", "x", "--role", "boss", local_dir=local)
    assert unknown.returncode == 2 and "boss" in unknown.stderr


def test_scoring_keys_are_for_partners_only(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    refused = _leadflow("scoring", "keys", "create", "ops", "--role", "staff", local_dir=local)
    said = " ".join(refused.stderr.replace("│", " ").split())  # typer's box wraps the message
    assert refused.returncode == 2 and "leadflow staff token" in said
