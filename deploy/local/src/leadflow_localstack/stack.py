"""`leadflow stack up|down|status`: start what is missing, wait until healthy, stop only what we started.

A component whose address is given (LEADFLOW_PG_DSN, LEADFLOW_KAFKA_BOOTSTRAP,
LEADFLOW_TEMPORAL_ADDRESS) is external: it is used, never started or stopped. The stack's own address
(as .local/env gives it, which every `leadflow` command reads) is not external: it is ours.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from leadflow_localstack import procs
from leadflow_localstack.components import Kafka, Postgres, StackError, Temporal
from leadflow_localstack.paths import local_dir
from leadflow_shared.kafka import ensure_topics
from leadflow_shared.staff import ensure_key_pair
from leadflow_shared.staff_cli import default_key_files

console = Console(stderr=True, soft_wrap=True)

EXTERNAL_ENV = {
    "postgres": "LEADFLOW_PG_DSN",
    "kafka": "LEADFLOW_KAFKA_BOOTSTRAP",
    "temporal": "LEADFLOW_TEMPORAL_ADDRESS",
}
# The staff identity's key pair (.local/staff/): `leadflow staff token` signs with the private key, the services
# verify with the public one. Made once by `up`, kept after.
STAFF_KEY_ENV = {"LEADFLOW_STAFF_SIGNING_KEY_FILE": 0, "LEADFLOW_STAFF_PUBLIC_KEY_FILE": 1}
# Below Linux's ephemeral range (32768-60999): a client reconnecting to a stopped component's port can be handed
# that very port as its own source port (a TCP self-connect), and the port then looks taken.
DEFAULT_PORTS = {"postgres": 25432, "kafka": 29092, "kafka_controller": 29093, "temporal": 27233,
                 "temporal_ui": 28233}
COMPONENT_PORTS = {"postgres": ("postgres",), "kafka": ("kafka", "kafka_controller"),
                   "temporal": ("temporal", "temporal_ui")}
START_TIMEOUT_S = {"postgres": 60, "kafka": 120, "temporal": 90}
PORT_WAIT_S = 20.0


@dataclass
class StackState:
    """What `up` started and where: .local/stack.json."""

    path: Path
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> StackState:
        path = path or local_dir() / "stack.json"
        if path.exists():
            raw = json.loads(path.read_text())
            return cls(path, raw.get("components", {}), raw.get("services", {}))
        return cls(path)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"components": self.components, "services": self.services}, indent=2))


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _keeps_its_ports(state: StackState, component: str) -> bool:
    """A component restarts on the ports it had while a service of ours may still be pointed at them; ports
    inside the ephemeral range (older stacks chose those) are given up once nothing uses them."""
    ports = state.components.get(component, {}).get("ports", {})
    if not ports:
        return False
    if any(procs.alive(info) for info in state.services.values()):
        return True
    low, high = ephemeral_range()
    return not any(low <= port <= high for port in ports.values())


def plan_ports(state: StackState) -> dict[str, int]:
    """Every component's ports, no port given to two of them: kept ones first, then free ones for the rest."""
    plan: dict[str, int] = {}
    for component, keys in COMPONENT_PORTS.items():
        if _keeps_its_ports(state, component):
            known = state.components[component]["ports"]
            plan.update({key: known[key] for key in keys if key in known})
    for keys in COMPONENT_PORTS.values():
        for key in keys:
            if key not in plan:
                plan[key] = procs.free_port(DEFAULT_PORTS[key], list(plan.values()))
    return plan


def wait_for_ports(component: str, ports: list[int]) -> None:
    """A kept port held for a moment by a client's retry is let go; one held for good is an error that names
    who holds it, rather than a move to another port the services do not know."""
    deadline = time.monotonic() + PORT_WAIT_S
    while True:
        busy = [port for port in ports if not procs.port_is_free(port)]
        if not busy:
            return
        if time.monotonic() > deadline:
            raise StackError(
                f"{component}: port {', '.join(map(str, busy))} is taken by {procs.holder(busy[0])}; the running "
                f"services use it, so {component} must come back on it: stop that program and run `leadflow "
                f"stack up` again"
            )
        time.sleep(0.5)


def build_components(state: StackState) -> dict[str, Postgres | Kafka | Temporal]:
    root = local_dir()
    ports = plan_ports(state)
    return {
        "postgres": Postgres(root / "postgres", ports["postgres"]),
        "kafka": Kafka(root / "kafka", ports["kafka"], ports["kafka_controller"]),
        "temporal": Temporal(root / "temporal", ports["temporal"], ports["temporal_ui"]),
    }


def _address(component: Postgres | Kafka | Temporal) -> str:
    if isinstance(component, Postgres):
        return component.dsn
    if isinstance(component, Kafka):
        return component.bootstrap
    return component.address


def _ports(component: Postgres | Kafka | Temporal) -> dict[str, int]:
    if isinstance(component, Kafka):
        return {"kafka": component.port, "kafka_controller": component.controller_port}
    if isinstance(component, Temporal):
        return {"temporal": component.port, "temporal_ui": component.ui_port}
    return {component.name: component.port}


def _ours(state: StackState, name: str) -> set[str]:
    """Addresses our component has had: a shell that sourced `.local/env` keeps the older one after it moved."""
    info = state.components.get(name, {})
    return {address for address in [info.get("address"), *info.get("former", [])] if address}


def external(state: StackState, name: str) -> str | None:
    """The address the environment gives for the component, unless it is one the stack gave ours."""
    given = os.environ.get(EXTERNAL_ENV[name])
    if not given or given in _ours(state, name):
        return None
    return given


def staff_env() -> dict[str, str]:
    """LEADFLOW_STAFF_*_KEY_FILE: as the environment gives them, else the stack's pair (once it exists)."""
    ours = default_key_files()
    env: dict[str, str] = {}
    for var, index in STAFF_KEY_ENV.items():
        given = os.environ.get(var)
        if given:
            env[var] = given
        elif ours[index].exists():
            env[var] = str(ours[index])
    return env


def ensure_staff_keys() -> dict[str, str]:
    """The stack's staff key pair, made when missing (an ES256 pair); returns staff_env()."""
    private, public = default_key_files()
    if ensure_key_pair(private, public):
        console.print(f"[green]✓[/] staff identity: key pair written to {private.parent}")
    return staff_env()


def stack_env(state: StackState | None = None) -> dict[str, str]:
    """LEADFLOW_* addresses for services and tests: external ones as given, ours from the state; the staff
    identity's key files."""
    state = state or StackState.load()
    env: dict[str, str] = {}
    for name, var in EXTERNAL_ENV.items():
        given = external(state, name)
        if given:
            env[var] = given
        elif name in state.components:
            env[var] = state.components[name]["address"]
    env.update(staff_env())
    return env


def up(names: list[str] | None = None, started: list[str] | None = None) -> dict[str, str]:
    """Start the missing components, wait until each is healthy; safe to repeat.

    The names of the components this call started are appended to `started`.
    """
    state = StackState.load()
    components = build_components(state)
    names = names or list(components)
    for name in names:
        given = external(state, name)
        if given:
            console.print(f"[cyan]{name}[/]: external at {given}, not started")
            continue
        if _up_one(state, components[name]) and started is not None:
            started.append(name)
    ensure_staff_keys()
    env = stack_env(state)
    _write_env_file(env)
    if "kafka" in names and "LEADFLOW_KAFKA_BOOTSTRAP" in env:
        with console.status("creating Kafka topics"):
            created = asyncio.run(
                ensure_topics(
                    env["LEADFLOW_KAFKA_BOOTSTRAP"],
                    prefix=os.environ.get("LEADFLOW_KAFKA_TOPIC_PREFIX", ""),
                    partitions=int(os.environ.get("LEADFLOW_KAFKA_TOPIC_PARTITIONS", "6")),
                )
            )
        console.print(f"[green]✓[/] kafka topics: {len(created)} created, the rest already there")
    return env


def _up_one(state: StackState, component: Postgres | Kafka | Temporal) -> bool:
    """Start the component unless ours is running; True when this call started it."""
    known = state.components.get(component.name, {})
    if procs.alive(known):
        # ours, maybe still starting: wait for it rather than start a second copy on the same data
        _wait_healthy(component, known["pid"], component.healthy)
        console.print(f"[green]✓[/] {component.name}: already running at {known['address']}")
        return False
    started = time.monotonic()
    wait_for_ports(component.name, list(_ports(component).values()))
    with console.status(f"preparing {component.name}"):
        component.prepare()
    pid = component.start()
    state.components[component.name] = {
        "pid": pid, "started": procs.start_time(pid), "address": _address(component), "ports": _ports(component),
        "log": str(component.log_file), "former": sorted(_ours(state, component.name) - {_address(component)}),
    }
    state.save()
    _wait_healthy(component, pid, component.healthy)
    if isinstance(component, Postgres):
        component.bootstrap()
    console.print(
        f"[green]✓[/] {component.name}: healthy at {_address(component)} ({time.monotonic() - started:.1f}s)"
    )
    return True


def _wait_healthy(component: Postgres | Kafka | Temporal, pid: int, healthy: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S[component.name]
    with console.status(f"waiting for {component.name} to be healthy"):
        while time.monotonic() < deadline:
            if not procs.is_running(pid):
                break
            if healthy():
                return
            time.sleep(0.5)
    raise StackError(
        f"{component.name} did not become healthy "
        f"({'exited' if not procs.is_running(pid) else 'timed out'}); last lines of {component.log_file}:\n"
        + procs.tail(component.log_file)
    )


def down(names: list[str] | None = None) -> None:
    """Stop what `up` started (never an external component), newest first."""
    state = StackState.load()
    for name in reversed(names or list(EXTERNAL_ENV)):
        info = state.components.get(name)
        if not info:
            continue
        if not procs.alive(info):
            continue
        with console.status(f"stopping {name}"):
            # Postgres' SIGTERM waits for every client to leave; SIGINT is its fast shutdown.
            sig = signal.SIGINT if name == "postgres" else signal.SIGTERM
            procs.stop(info.get("pid"), timeout_s=30, sig=sig, started=info.get("started"))
        console.print(f"[yellow]■[/] {name}: stopped")
        info["pid"] = None
    state.save()


def status() -> list[dict[str, Any]]:
    state = StackState.load()
    rows = []
    for name in EXTERNAL_ENV:
        given = external(state, name)
        if given:
            rows.append({"name": name, "state": "external", "address": given, "pid": None, "rss": 0})
            continue
        info = state.components.get(name, {})
        pid = info.get("pid")
        running = procs.alive(info)
        rows.append({
            "name": name, "state": "running" if running else "stopped", "address": info.get("address", "-"),
            "pid": pid if running else None, "rss": procs.rss_bytes(pid) if running else 0,
        })
    return rows


def _write_env_file(env: dict[str, str]) -> None:
    """`.local/env`: `source .local/env` points a shell (or a service run by hand) at the stack."""
    path = local_dir() / "env"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items())))


__all__ = ["StackError", "StackState", "down", "ensure_staff_keys", "external", "stack_env", "staff_env", "status",
           "up"]
