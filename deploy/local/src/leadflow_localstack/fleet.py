"""A whole platform of service processes on the stack, apart from the one `leadflow services up` runs: its own
database, topics, consumer groups and task queue, any number of instances of each service, each instance
startable, killable and restartable on its own. The end-to-end bench, the fault tests and the scale-out
measurement run on one.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from leadflow_localstack import procs
from leadflow_shared.service import Service, discover_services

# Consumer services: their instances share consumer groups and split the partitions between them.
CONSUMERS = ("scoring", "assignment", "pool", "opportunity")
# A lead's path: what a fleet runs unless told otherwise (the console and notify stand beside it).
PIPELINE = ("intake", "scoring", "assignment", "pool", "opportunity")


@dataclass
class Instance:
    """One process of a service (`label` is `<service>` or `<service>-<n>`)."""

    service: Service[Any, Any]
    label: str
    port: int
    log_file: Path
    env: dict[str, str]
    argv: list[str]
    pid: int | None = None
    started: float | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return procs.is_running(self.pid, self.started)


@dataclass
class Fleet:
    """Instances of every service (`instances[name]`, default 1) against `env` (the stack's LEADFLOW_* addresses,
    plus the fleet's database, topic prefix, groups and task queue), logs under `log_dir`."""

    env: dict[str, str]
    log_dir: Path
    instances: dict[str, int] = field(default_factory=dict)
    pool_worker: bool = True  # pool's Temporal worker in a process of its own, as deployed at scale
    # A niceness per service (pool's worker is "pool-worker"): on one shared host, the services off a
    # measured path yield the CPU to it, as their own nodes would in a deployment.
    niceness: dict[str, int] = field(default_factory=dict)
    services: tuple[str, ...] = PIPELINE  # which installed services it runs
    members: dict[str, Instance] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        taken: list[int] = []
        for name, service in discover_services().items():
            if name not in self.services:
                continue
            for n in range(self.instances.get(name, 1)):
                label = name if n == 0 else f"{name}-{n + 1}"
                port = procs.free_port(service.http_port + 10_000 + 100 * n, taken)
                taken.append(port)
                env = {**self.env, "LEADFLOW_HTTP_PORT": str(port)}
                if name == "pool" and self.pool_worker:
                    env["LEADFLOW_TEMPORAL_WORKER"] = "false"
                self.members[label] = Instance(service, label, port, self.log_dir / f"{label}.log", env,
                                               [sys.executable, "-m", f"leadflow_{name}"])
        if self.pool_worker:
            pool = discover_services()["pool"]
            self.members["pool-worker"] = Instance(pool, "pool-worker", 0, self.log_dir / "pool-worker.log",
                                                   dict(self.env), [sys.executable, "-m", "leadflow_pool.worker"])

    def of(self, name: str) -> list[Instance]:
        return [m for m in self.members.values() if m.service.name == name and m.port]

    def url(self, name: str) -> str:
        return self.of(name)[0].url

    def start(self, label: str) -> Instance:
        member = self.members[label]
        niceness = self.niceness.get("pool-worker" if label == "pool-worker" else member.service.name, 0)
        argv = ["nice", "-n", str(niceness), *member.argv] if niceness else member.argv  # nice execs: same pid
        member.pid = procs.spawn(argv, member.log_file, env=member.env)
        if niceness:  # the process's niceness counts where the kernel has no autogroup; its group's, where it has
            procs.set_group_niceness(member.pid, niceness)
        member.started = procs.start_time(member.pid)
        return member

    def start_all(self, timeout_s: float = 120) -> None:
        for label in self.members:
            self.start(label)
        self.wait_ready(list(self.members), timeout_s)

    def kill(self, label: str) -> None:
        """kill -9: no shutdown at all, as when a machine or container dies."""
        member = self.members[label]
        procs.stop_all([(member.pid, member.started)], timeout_s=0, sig=signal.SIGKILL)

    def restart(self, label: str, timeout_s: float = 120) -> None:
        self.members[label].restarts += 1
        self.start(label)
        self.wait_ready([label], timeout_s)

    def wait_ready(self, labels: list[str], timeout_s: float = 120) -> None:
        for label in labels:
            member = self.members[label]
            deadline = time.monotonic() + timeout_s
            while not self._ready(member):
                if not member.alive:
                    raise RuntimeError(f"{label} exited; last lines of {member.log_file}:\n"
                                       + procs.tail(member.log_file))
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{label} not ready after {timeout_s:.0f} s; last lines of "
                                       f"{member.log_file}:\n" + procs.tail(member.log_file))
                time.sleep(0.3)

    @staticmethod
    def _ready(member: Instance) -> bool:
        if not member.port:  # the pool worker serves no HTTP: running is ready
            return member.alive
        try:
            return httpx.get(f"{member.url}/health/ready", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def stop_all(self, timeout_s: float = 25) -> None:
        procs.stop_all([(m.pid, m.started) for m in self.members.values()], timeout_s=timeout_s)

    def pids(self) -> dict[str, int]:
        return {label: m.pid for label, m in self.members.items() if m.pid and m.alive}


__all__ = ["CONSUMERS", "Fleet", "Instance"]
