"""`leadflow services up|down|status`: the five services as local processes on the stack.

Migrations are applied first (each service's own Alembic history in its own schema); then each
service is started with the stack's addresses and waited for until /health/ready answers 200.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from leadflow_localstack import procs
from leadflow_localstack.components import StackError
from leadflow_localstack.paths import logs_dir
from leadflow_localstack.stack import StackState, stack_env
from leadflow_shared.service import Service, discover_services
from leadflow_shared.settings import LeadflowSettings

console = Console(stderr=True, soft_wrap=True)
READY_TIMEOUT_S = 90
STOP_MARGIN_S = 5.0  # beyond the services' grace period, for the interpreter to exit


def service_url(service: Service, path: str = "") -> str:
    return f"http://127.0.0.1:{service.http_port}{path}"


def up(names: list[str] | None = None, *, extra_env: dict[str, str] | None = None) -> dict[str, Service]:
    state = StackState.load()
    env = {**stack_env(state), **(extra_env or {})}
    missing = [v for v in ("LEADFLOW_PG_DSN", "LEADFLOW_KAFKA_BOOTSTRAP", "LEADFLOW_TEMPORAL_ADDRESS") if v not in env]
    if missing:
        raise StackError(f"no address for {', '.join(missing)}: run `leadflow stack up` or set them")
    services = _select(names)
    for service in services.values():
        with console.status(f"migrating {service.name}"):
            service.migrate(env["LEADFLOW_PG_DSN"])
    for service in services.values():
        _start(state, service, env)
    for service in services.values():
        _wait_ready(state, service)
    return services


def _select(names: list[str] | None) -> dict[str, Service]:
    services = discover_services()
    unknown = set(names or []) - set(services)
    if unknown:
        raise StackError(f"unknown service(s): {', '.join(sorted(unknown))}; known: {', '.join(services)}")
    return {n: s for n, s in services.items() if not names or n in names}


def _start(state: StackState, service: Service, env: dict[str, str]) -> None:
    known = state.services.get(service.name, {})
    if procs.alive(known):
        console.print(f"[green]✓[/] {service.name}: already running (pid {known['pid']})")
        return
    if not procs.port_is_free(service.http_port):
        raise StackError(f"{service.name}: port {service.http_port} is taken by another program "
                         f"(stop it, or run this service alone with LEADFLOW_HTTP_PORT)")
    log_file = logs_dir() / f"{service.name}.log"
    script = Path(sys.executable).parent / f"leadflow-{service.name}"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", f"leadflow_{service.name}"]
    pid = procs.spawn(argv, log_file, env={**env, "LEADFLOW_HTTP_PORT": str(service.http_port)})
    state.services[service.name] = {"pid": pid, "started": procs.start_time(pid), "url": service_url(service),
                                    "log": str(log_file)}
    state.save()


def _wait_ready(state: StackState, service: Service) -> None:
    info = state.services[service.name]
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = ""
    with console.status(f"waiting for {service.name} to be ready"):
        while time.monotonic() < deadline and procs.alive(info):
            try:
                response = httpx.get(service_url(service, "/health/ready"), timeout=5)
                if response.status_code == 200:
                    console.print(f"[green]✓[/] {service.name}: ready at {info['url']}")
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.5)
    raise StackError(
        f"{service.name} did not become ready ({last or 'exited'}); last lines of {info['log']}:\n"
        + procs.tail(Path(info["log"]))
    )


def down(names: list[str] | None = None) -> None:
    """Stop the services together: each stops within its grace period (LEADFLOW_SHUTDOWN_GRACE_S) even with
    Kafka or Postgres away, and is killed a few seconds after that."""
    state = StackState.load()
    chosen = {name: info for name, info in state.services.items()
              if (not names or name in names) and procs.alive(info)}
    if chosen:
        with console.status(f"stopping {', '.join(chosen)}"):
            procs.stop_all([(info["pid"], info.get("started")) for info in chosen.values()],
                           timeout_s=LeadflowSettings().shutdown_grace_s + STOP_MARGIN_S)
    for name, info in chosen.items():
        console.print(f"[yellow]■[/] {name}: stopped")
        info["pid"] = None
    state.save()


def status() -> list[dict[str, Any]]:
    state = StackState.load()
    rows = []
    for name, service in discover_services().items():
        info = state.services.get(name, {})
        pid = info.get("pid")
        running = procs.alive(info)
        ready = "-"
        if running:
            try:
                ready = str(httpx.get(service_url(service, "/health/ready"), timeout=3).status_code)
            except httpx.HTTPError:
                ready = "no answer"
        rows.append({
            "name": name, "state": "running" if running else "stopped", "url": service_url(service),
            "ready": ready, "pid": pid if running else None, "rss": procs.rss_bytes(pid) if running else 0,
        })
    return rows
