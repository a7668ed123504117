"""Starting, finding and stopping the stack's background processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def holder(port: int) -> str:
    """Who listens on or holds the port, as far as this user may see."""
    with contextlib.suppress(psutil.AccessDenied):
        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.pid:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc = psutil.Process(conn.pid)
                    return f"pid {conn.pid} ({' '.join(proc.cmdline()[:3])})"
    return "another program"


def free_port(preferred: int, taken: Sequence[int] = ()) -> int:
    """The preferred port when free, else the next free one above it."""
    port = preferred
    while port in taken or not port_is_free(port):
        port += 1
    return port


def spawn(argv: Sequence[str], log_file: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start a detached process (own session, so our Ctrl-C does not reach it); returns its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    return proc.pid


def renice(pid: int, niceness: int) -> dict[int, int]:
    """Set every thread of `pid` (and of its children) to `niceness`; returns each thread's niceness before,
    for `restore_niceness`. Linux keeps a niceness per thread, and a running Go or JVM process has many."""
    before: dict[int, int] = {}
    with contextlib.suppress(psutil.NoSuchProcess):
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess, FileNotFoundError):
                for thread in proc.threads():
                    with contextlib.suppress(ProcessLookupError, PermissionError):  # another user's: left as is
                        before[thread.id] = os.getpriority(os.PRIO_PROCESS, thread.id)
                        os.setpriority(os.PRIO_PROCESS, thread.id, niceness)
    return before


def group_niceness(pid: int) -> int | None:
    """The niceness of the scheduling group (autogroup) `pid` is in; None where the kernel has none."""
    try:
        return int(Path(f"/proc/{pid}/autogroup").read_text().rsplit("nice", 1)[1])
    except (OSError, ValueError, IndexError):
        return None


def set_group_niceness(pid: int, niceness: int) -> None:
    """Set the niceness of `pid`'s scheduling group. Where the kernel groups each session (autogroup, on by
    default), the CPU is shared between groups first, each session equally, and a process's own niceness
    ranks it only within its group: a process started in its own session (spawn) is reniced through this."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(niceness))


def restore_niceness(before: dict[int, int]) -> None:
    for tid, niceness in before.items():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.setpriority(os.PRIO_PROCESS, tid, niceness)


def is_running(pid: int | None, started: float | None = None) -> bool:
    """Is `pid` alive, and (given its start time) still the process we started, not a reused pid?"""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False


def start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return None


def alive(info: dict[str, object]) -> bool:
    """A state-file entry ({pid, started}) that still names a live process of ours."""
    pid, started = info.get("pid"), info.get("started")
    return is_running(pid if isinstance(pid, int) else None, started if isinstance(started, float) else None)


def stop(pid: int | None, *, timeout_s: float = 20.0, sig: int = signal.SIGTERM, started: float | None = None) -> None:
    """Signal the process group (SIGTERM unless told), wait, then SIGKILL what is left."""
    stop_all([(pid, started)], timeout_s=timeout_s, sig=sig)


def stop_all(targets: Sequence[tuple[int | None, float | None]], *, timeout_s: float = 20.0,
             sig: int = signal.SIGTERM) -> None:
    """Signal every process group at once and wait for them together: stopping n processes takes at most
    `timeout_s`, not n times it; SIGKILL what is left after that."""
    running = [pid for pid, started in targets if pid and is_running(pid, started)]
    for pid in running:
        _signal_group(pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(is_running(pid) for pid in running):
        time.sleep(0.1)
    for pid in running:
        if is_running(pid):
            _signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _memory(proc: psutil.Process) -> int:
    """Proportional set size where readable (shared pages split among their users), else RSS."""
    try:
        return int(proc.memory_full_info().pss)
    except (psutil.AccessDenied, AttributeError):
        return int(proc.memory_info().rss)


def rss_bytes(pid: int | None) -> int:
    """Memory of a process and its children (PSS, so Postgres' shared buffers count once)."""
    if not is_running(pid):
        return 0
    proc = psutil.Process(pid)
    total = _memory(proc)
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += _memory(child)
    return total
