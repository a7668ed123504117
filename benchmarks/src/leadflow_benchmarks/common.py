"""What the benches share: the stack they run against, the bench database and service process they start,
the measures they take of it (/proc), the report table, percentiles, and the names and mobiles their
generated leads carry."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from leadflow_shared.db import recreate_database
from leadflow_shared.machine import python_speed_s, speed_note

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
BRAND_CHARS = ("华信通达远博瑞星辰云海启明天宇恒新创金桥万象卓越鼎盛东方泰和安康永利嘉禾中科联众汇丰德润宏图"
               "凯盛润泽锦程智慧优品佳美乐享百川千里正大国际青松蓝天绿洲银河长城黄河昆仑珠江")


# ---- the run -------------------------------------------------------------------------------------

def stack_env(components: list[str] | None = None) -> dict[str, str]:
    """The local stack's LEADFLOW_* addresses (its `components`, default all, started where they are not
    running), the environment's LEADFLOW_* winning; without leadflow-localstack, LEADFLOW_* as given."""
    try:
        from leadflow_localstack import stack
    except ImportError:  # deployed without the local stack: use LEADFLOW_* as given
        return {k: v for k, v in os.environ.items() if k.startswith("LEADFLOW_")}
    return {**stack.up(components), **{k: v for k, v in os.environ.items() if k.startswith("LEADFLOW_")}}


def run(main: Coroutine[Any, Any, None], console: Console) -> None:
    """Run a bench, then print how fast this machine ran Python before and after it."""
    speed_before = python_speed_s()
    asyncio.run(main)
    console.print(speed_note(speed_before, python_speed_s()))


def bench_database(admin_dsn: str, name: str) -> tuple[str, str]:
    """The DSN of the bench's own database `name` on the stack's server (as the services take it), and the
    same for asyncpg."""
    dsn = admin_dsn.rpartition("/")[0] + f"/{name}"
    return dsn, plain_dsn(dsn)


def plain_dsn(dsn: str) -> str:
    return dsn.replace("postgresql+asyncpg", "postgresql")


async def recreate_bench_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(plain_dsn(admin_dsn))
    try:
        await recreate_database(conn, name)
    finally:
        await conn.close()


def log_path(bench: str) -> Path:
    """Where the service under test writes its log: `$TMPDIR/leadflow-bench-<bench>.log`."""
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"leadflow-bench-{bench}.log"


def service_env(env: dict[str, str], dsn: str, *, topic_prefix: str, group_prefix: str, port: int,
                workers: int = 1, **extra: str) -> dict[str, str]:
    """The environment of the service under test: the stack's addresses, the bench database, its own topics
    and consumer groups, a port, quiet logs; `extra` LEADFLOW_* settings on top."""
    return {**os.environ, **env, "LEADFLOW_PG_DSN": dsn, "LEADFLOW_KAFKA_TOPIC_PREFIX": topic_prefix,
            "LEADFLOW_KAFKA_GROUP_PREFIX": group_prefix, "LEADFLOW_HTTP_PORT": str(port),
            "LEADFLOW_LOG_LEVEL": "WARNING", "LEADFLOW_HTTP_WORKERS": str(workers), **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(url: str, what: str, proc: asyncio.subprocess.Process, log: Path, *,
                     timeout_s: float = 120.0, poll_s: float = 0.1) -> None:
    """Poll `url`/health/ready until it answers 200; fail if the process exits first or `timeout_s` pass."""
    async with httpx.AsyncClient() as client:
        for _ in range(round(timeout_s / poll_s)):
            if proc.returncode is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready (see {log})")
            try:
                if (await client.get(f"{url}/health/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(poll_s)
    raise RuntimeError(f"{what} did not become ready in {timeout_s:.0f} s (see {log})")


# ---- measures of a process (/proc) ---------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its descendants (uvicorn's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    family, total = {pid}, 0.0
    for _ in range(3):  # children, grandchildren
        family |= {p for p, (parent, _) in stats.items() if parent in family}
    for p in family:
        total += stats.get(p, (0, 0.0))[1]
    return total


def machine_busy(since: tuple[float, float] | None = None) -> Any:
    """(busy, total) jiffies of all cores from /proc/stat; with `since`, the busy share in between."""
    values = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle, total = values[3] + values[4], sum(values[:8])
    if since is None:
        return total - idle, total
    return ((total - idle) - since[0]) / max(1.0, total - since[1])


def peak_rss(pid: int) -> int | None:
    """The process's peak resident set (VmHWM), bytes; None where /proc does not tell."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


# ---- report --------------------------------------------------------------------------------------

def report_table(title: str) -> Table:
    """The benches' table: a measure, leadflow's figure, the raw ceiling's, and their ratio."""
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("leadflow", justify="right")
    table.add_column("raw ceiling", justify="right")
    table.add_column("ratio", justify="right")
    return table


def pct(values: list[float], p: float) -> float:
    """The `p` quantile (0 to 1) of durations in seconds, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


# ---- generated leads -----------------------------------------------------------------------------

def company(i: int, cities: Sequence[str], trades: Sequence[str]) -> str:
    """A distinct, realistic-looking name for every i: a four-character brand spread over 84⁴ choices
    (so names are as sparse as real ones), a trade and a city."""
    n = len(BRAND_CHARS)
    code = (i * 2_654_435_761) % n**4  # a fixed scramble: neighbouring i get unrelated brands
    brand = "".join(BRAND_CHARS[(code // n**k) % n] for k in range(4))
    return f"{cities[i % len(cities)]}{brand}{trades[(i // len(cities)) % len(trades)]}有限公司"


def mobile(i: int) -> str:
    return f"+86139{i:08d}"
