"""pytest fixtures: real Postgres, Kafka and Temporal for every test that crosses a boundary.

Where a Docker engine answers, testcontainers provides them; otherwise the local stack does, started
when it is not up. A component that cannot be had fails the test loudly; nothing is skipped.
Each test session gets its own database, topic prefix, consumer groups and Temporal task queue, so
it neither sees nor disturbs a running demo or another session. Services verify staff tokens with the
local stack's key pair (`.local/staff/`); `staff_token(user, *roles, teams=...)` makes one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from leadflow_localstack import procs
from leadflow_shared.db import Database, drop_database
from leadflow_shared.kafka import ensure_topics
from leadflow_shared.service import Runtime, Service, discover_services
from leadflow_shared.settings import LeadflowSettings
from leadflow_shared.staff import ensure_key_pair, issue_token
from leadflow_shared.staff_cli import default_key_files


@dataclass(frozen=True)
class Infra:
    pg_dsn: str  # a database the tests may create other databases from
    kafka_bootstrap: str
    temporal_address: str
    provider: str


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def _local_infra() -> Iterator[Infra]:
    """The local stack; what this session had to start, it stops again (a running demo is left be).

    LEADFLOW_* addresses of other servers are used as they are; the stack's own (a sourced .local/env)
    are not external: a stopped component of ours is started.
    """
    from leadflow_localstack import stack

    started: list[str] = []
    try:
        env = stack.up(started=started)
    except Exception as exc:  # a loud failure, never a skip
        stack.down(started)
        pytest.fail(f"could not start the local stack (Postgres, Kafka, Temporal): {exc}", pytrace=False)
    try:
        yield Infra(env["LEADFLOW_PG_DSN"], env["LEADFLOW_KAFKA_BOOTSTRAP"], env["LEADFLOW_TEMPORAL_ADDRESS"], "local")
    finally:
        if started and not os.environ.get("LEADFLOW_TEST_KEEP_STACK"):
            stack.down(started)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    choice = os.environ.get("LEADFLOW_TEST_INFRA", "auto")
    if choice == "docker" or (choice == "auto" and docker_available()):
        from leadflow_localstack.containers import container_infra

        with container_infra() as found:
            yield found
        return
    with _local_infra() as found:
        yield found


def _plain(dsn: str) -> str:
    return dsn.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
async def test_database(infra: Infra) -> AsyncIterator[str]:
    """A database of this session's own, dropped afterwards."""
    name = f"leadflow_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_plain(infra.pg_dsn))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = infra.pg_dsn.rpartition("/")
    yield f"{base}/{name}"
    conn = await asyncpg.connect(_plain(infra.pg_dsn))
    try:
        await drop_database(conn, name)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def topic_prefix(infra: Infra) -> AsyncIterator[str]:
    """This session's topics (`test<hex>.leads.received.v1`, ...), deleted afterwards."""
    prefix = f"test{uuid.uuid4().hex[:8]}."
    await ensure_topics(infra.kafka_bootstrap, prefix=prefix, partitions=3)
    yield prefix
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def leadflow_env(infra: Infra, test_database: str, topic_prefix: str) -> dict[str, str]:
    """LEADFLOW_* settings that point a service at this session's database, topics and queues."""
    run = uuid.uuid4().hex[:8]
    return {
        "LEADFLOW_PG_DSN": test_database,
        "LEADFLOW_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "LEADFLOW_TEMPORAL_ADDRESS": infra.temporal_address,
        "LEADFLOW_KAFKA_TOPIC_PREFIX": topic_prefix,
        "LEADFLOW_KAFKA_GROUP_PREFIX": f"test-{run}",
        "LEADFLOW_POOL_TASK_QUEUE": f"test-{run}-pool",
        "LEADFLOW_REACTIVATION_ENABLED": "false",  # no hourly schedule left on the stack by every test
        "LEADFLOW_LOG_LEVEL": "INFO",
        "LEADFLOW_CONSUMER_RETRY_BACKOFF_S": "0.05",
        "LEADFLOW_OUTBOX_POLL_INTERVAL_S": "0.2",
        "LEADFLOW_KAFKA_TOPIC_PARTITIONS": "2",
        **staff_key_env(),
    }


def staff_key_env() -> dict[str, str]:
    """The stack's staff key pair (made when missing): services verify, tests sign with it."""
    private, public = default_key_files()
    ensure_key_pair(private, public)
    return {"LEADFLOW_STAFF_SIGNING_KEY_FILE": str(private), "LEADFLOW_STAFF_PUBLIC_KEY_FILE": str(public)}


def staff_token_for(env: dict[str, str], user: str, *roles: str, teams: Iterable[str] = (),
                    ttl: timedelta = timedelta(hours=1), name: str | None = None) -> str:
    """`Bearer <token>` of a staff member, signed with the key of `env` (leadflow_env's)."""
    settings = LeadflowSettings(staff_signing_key_file=env["LEADFLOW_STAFF_SIGNING_KEY_FILE"])
    return "Bearer " + issue_token(settings, user, [str(r) for r in roles], list(teams), ttl, name=name)


@pytest.fixture(scope="session")
def staff_token(leadflow_env: dict[str, str]) -> Callable[..., str]:
    """`staff_token("rep-wang", "rep", teams=["east"])` → the `Authorization` header value of a staff token."""
    def make(user: str, *roles: str, teams: Iterable[str] = (), ttl: timedelta = timedelta(hours=1),
             name: str | None = None) -> str:
        return staff_token_for(leadflow_env, user, *roles, teams=teams, ttl=ttl, name=name)

    return make


@pytest.fixture(scope="session")
def migrated(leadflow_env: dict[str, str]) -> dict[str, Service[Any, Any]]:
    """Every service's migrations applied to this session's database."""
    services = discover_services()
    for service in services.values():
        service.migrate(leadflow_env["LEADFLOW_PG_DSN"])
    return services


@pytest.fixture
def service_env(leadflow_env: dict[str, str], migrated: dict[str, Service[Any, Any]]) -> dict[str, str]:
    """The session's settings with this test's own consumer groups and task queue."""
    run = uuid.uuid4().hex[:8]
    # Own topics too (the services create them), so a test never wades through earlier tests' events;
    # under the session's prefix, so the session's clean-up removes them.
    return {**leadflow_env, "LEADFLOW_KAFKA_GROUP_PREFIX": f"test-{run}", "LEADFLOW_POOL_TASK_QUEUE": f"test-{run}-pool",
            "LEADFLOW_KAFKA_TOPIC_PREFIX": f"{leadflow_env['LEADFLOW_KAFKA_TOPIC_PREFIX']}{run}."}


@pytest.fixture
def settings_env(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This test's LEADFLOW_* variables set in this process (for in-process runtimes)."""
    for key, value in service_env.items():
        monkeypatch.setenv(key, value)
    return service_env


@asynccontextmanager
async def in_process(service: Service[Any, Any], settings: LeadflowSettings | None = None,
                     bootstrap: Callable[[Any, Database], Any] | None = None) -> AsyncIterator[Runtime[Any, Any]]:
    """A service's runtime (consumers, relay, components) in this process, connected to Kafka; `bootstrap`
    builds its container with parts of the test's own."""
    runtime = Runtime(service, settings or service.settings(), bootstrap)
    await runtime.start()
    try:
        await asyncio.wait_for(runtime.kafka_connected.wait(), 60)
        yield runtime
    finally:
        await runtime.stop()


@dataclass
class RunningService:
    service: Service[Any, Any]
    port: int
    pid: int
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class ServiceProcesses:
    """Services as real processes (as `leadflow services up` runs them), on free ports."""

    env: dict[str, str]
    log_dir: Path
    running: dict[str, RunningService] = field(default_factory=dict)

    def start(self, service: Service[Any, Any], label: str | None = None) -> RunningService:
        """Start a service's process; `label` names a second process of the same service (a replica)."""
        name = label or service.name
        port = procs.free_port(18000 + len(self.running) * 7, [r.port for r in self.running.values()])
        log_file = self.log_dir / f"{name}.log"
        pid = procs.spawn([sys.executable, "-m", f"leadflow_{service.name}"], log_file,
                          env={**self.env, "LEADFLOW_HTTP_PORT": str(port)})
        self.running[name] = RunningService(service, port, pid, log_file)
        return self.running[name]

    def wait_ready(self, timeout_s: float = 60) -> None:
        for running in self.running.values():
            deadline = time.monotonic() + timeout_s
            while True:
                if not procs.is_running(running.pid):
                    pytest.fail(f"{running.service.name} exited:\n{procs.tail(running.log_file)}", pytrace=False)
                try:
                    if httpx.get(f"{running.url}/health/ready", timeout=3).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{running.service.name} not ready:\n{procs.tail(running.log_file)}", pytrace=False)
                time.sleep(0.3)

    def stop_all(self) -> dict[str, int | None]:
        """SIGTERM each; returns the exit codes (0 is a graceful shutdown)."""
        codes: dict[str, int | None] = {}
        for name, running in self.running.items():
            codes[name] = _terminate(running.pid)
        self.running.clear()
        return codes


def _terminate(pid: int, timeout_s: float = 30) -> int | None:
    import signal

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    procs.stop(pid)
    return None


@pytest.fixture
def service_processes(service_env: dict[str, str], tmp_path: Path) -> Iterator[ServiceProcesses]:
    processes = ServiceProcesses(service_env, tmp_path)
    yield processes
    processes.stop_all()


async def read_topic(bootstrap: str, topic: str, *, until: int = 1, timeout_s: float = 30) -> list[object]:
    """Records of a topic from its start, until `until` have come or time runs out."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list[object] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(records) < until and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend(messages)
        # a short extra look, so a duplicate right behind would be seen too
        for messages in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(messages)
    finally:
        await consumer.stop()
    return records


async def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None,
                  headers: dict[str, str] | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key,
                                     headers=[(k, v.encode()) for k, v in (headers or {}).items()])
    finally:
        await producer.stop()


async def eventually(probe, timeout_s: float = 30, interval_s: float = 0.2):  # type: ignore[no-untyped-def]
    """Await `probe()` until it returns something truthy; its last value otherwise."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(interval_s)
    return value


@contextmanager
def served_alone(service: Service[Any, Any], leadflow_env: dict[str, str], log_dir: Path,
                 **settings: str) -> Iterator[str]:
    """A service as a real process on its own topics and consumer groups (`settings`: more LEADFLOW_*
    variables, `{run}` standing for the run's id), for a module of tests that hammer it; its URL. It must
    stop cleanly afterwards."""
    run = uuid.uuid4().hex[:8]
    env = {**leadflow_env, "LEADFLOW_KAFKA_GROUP_PREFIX": f"fuzz-{run}",
           "LEADFLOW_KAFKA_TOPIC_PREFIX": f"{leadflow_env['LEADFLOW_KAFKA_TOPIC_PREFIX']}{run}.",
           **{k: v.format(run=run) for k, v in settings.items()}}
    processes = ServiceProcesses(env, log_dir)
    running = processes.start(service)
    processes.wait_ready()
    yield running.url
    codes = processes.stop_all()
    assert set(codes.values()) <= {0, -15}, (codes, running.log_file.read_text()[-4000:])


def assert_ready(url: str, what: str, timeout_s: float = 10) -> None:
    """The service at `url` answers ready within `timeout_s` (after a fuzzing, say)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/health/ready", timeout=5).status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} is not ready")


def assert_no_server_errors(url: str, header_sets: list[dict[str, str]], *, min_operations: int,
                            max_examples: int = 25) -> None:
    """schemathesis over every operation of the service's OpenAPI document: up to `max_examples` generated
    requests each (by hypothesis), sent with each of `header_sets`; a 5xx fails. (Driven by hand: schemathesis'
    pytest fixture plumbing does not run on this pytest.)"""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= min_operations, [op.label for op in operations]
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_5xx(case: Any) -> None:
            for headers in header_sets:
                case.call_and_validate(base_url=url, headers=headers, checks=[not_a_server_error], timeout=30)

        no_5xx()
