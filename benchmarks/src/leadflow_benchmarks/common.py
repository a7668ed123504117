"""What the benches share: the stack they run against, the bench database and service process they start,
the measures they take of it (/proc), the report table, percentiles, and the names and mobiles their
generated leads carry."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import socket
import time
from dataclasses import dataclass, field
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
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


# ---- Kafka ---------------------------------------------------------------------------------------

async def produce(bootstrap: str, console: Console, batches: list[tuple[str, list[tuple[str, bytes, list[tuple[str, bytes]]]]]]) -> float:
    """Send every event (acks=all, batched); returns events/s."""
    # A fresh topic's leaders can answer NOT_LEADER for a moment after metadata shows them: the producer
    # retries (nothing is lost, every send is awaited), so its warnings are only noise here.
    logging.getLogger("aiokafka.producer").setLevel(logging.ERROR)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024,
                                compression_type=None, client_id="leadflow-bench")
    await producer.start()
    total = sum(len(events) for _, events in batches)
    try:
        with progress(console) as bar:
            task = bar.add_task("producing events", total=total)
            started = time.perf_counter()
            for topic, events in batches:
                for start in range(0, len(events), 5000):
                    chunk = events[start:start + 5000]
                    futures = [await producer.send(topic, value, key=key.encode(), headers=headers)
                               for key, value, headers in chunk]
                    await asyncio.gather(*futures)
                    bar.advance(task, len(chunk))
            return total / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def raw_ceiling(bootstrap: str, topics: list[str], expected: int) -> tuple[float, int]:
    """A plain consumer (no group) reads both topics from the start and parses each value as JSON."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", client_id="leadflow-bench-ceiling",
                                max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t, n in (await topic_partitions(bootstrap, topics)).items() for p in range(n)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        count = 0
        started = time.perf_counter()
        while count < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if not batch and all(await consumer.position(tp) >= ends[tp] for tp in partitions):
                break
            for records in batch.values():
                for record in records:
                    json.loads(record.value)
                count += len(records)
        return count / (time.perf_counter() - started), count
    finally:
        await consumer.stop()


async def topic_partitions(bootstrap: str, topics: list[str], timeout_s: float = 30.0) -> dict[str, int]:
    """Each topic's partition count, once every partition has a leader (a fresh topic's take a moment)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-bench")
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            described = await admin.describe_topics(topics)
            ready = {t["topic"]: len(t["partitions"]) for t in described
                     if t["error_code"] == 0 and t["partitions"]
                     and all(p["error_code"] == 0 and p["leader"] >= 0 for p in t["partitions"])}
            if set(ready) == set(topics):
                return ready
            if time.monotonic() > deadline:
                raise RuntimeError(f"topics without leaders after {timeout_s:.0f} s: {sorted(set(topics) - set(ready))}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str, console: Console) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-bench")
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    except Exception as exc:  # cleanup only: say so, never hide the figures
        console.print(f"[yellow]bench topics {prefix}* not deleted: {exc!r}[/]")
    finally:
        await admin.close()


def progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


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


@dataclass
class Figures:
    """A bench's rows: a measure, leadflow's figure, the raw ceiling's, and the target with its verdict."""

    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, what: str, value: str, ceiling: str = "", target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        self.rows.append((what, value, ceiling, f"{target} {verdict}".strip()))
        if ok is False:
            self.failures.append(what)

    def print(self, console: Console, title: str, ceilings: str) -> None:
        """The table, the machine's load, what the raw ceilings are, and the targets missed."""
        table = Table(title=title)
        for name, justify in (("measure", "left"), ("leadflow", "right"), ("raw ceiling", "right"),
                              ("target", "left")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for row in self.rows:
            table.add_row(*row)
        console.print(table)
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        console.print(f"load average at the end (1 / 5 / 15 min): {load} — other work on the machine moves these "
                      "figures.")
        console.print(ceilings)
        if self.failures:
            console.print(f"[yellow]missed: {', '.join(self.failures)}[/]")


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


async def start_instances(module: str, name: str, count: int, env: dict[str, str], dsn: str, *, topic_prefix: str,
                          group_prefix: str, partitions: int, profile: Path | None = None
                          ) -> tuple[list[asyncio.subprocess.Process], list[int], list[Path]]:
    """`count` processes of a service (`python -m module`) in the same consumer groups, each on its own port and
    log; ready when this returns. With `profile`, the first runs under cProfile."""
    procs: list[asyncio.subprocess.Process] = []
    ports, logs = [], []
    try:
        for i in range(count):
            port, log_file = free_port(), log_path(f"{name}-{i + 1}" if count > 1 else name)
            proc_env = service_env(env, dsn, topic_prefix=topic_prefix, group_prefix=group_prefix, port=port,
                                   LEADFLOW_KAFKA_TOPIC_PARTITIONS=str(partitions))
            profiler = ["-m", "cProfile", "-o", str(profile.resolve())] if profile and i == 0 else []
            with open(log_file, "wb") as log:
                procs.append(await asyncio.create_subprocess_exec(
                    sys.executable, *profiler, "-m", module, env=proc_env, stdout=log, stderr=log))
            ports.append(port)
            logs.append(log_file)
        for proc, port, log_file in zip(procs, ports, logs):
            await wait_ready(f"http://127.0.0.1:{port}", name, proc, log_file)
    except BaseException:
        await stop_instances(procs)
        raise
    return procs, ports, logs


async def stop_instances(procs: list[asyncio.subprocess.Process], *, interrupt_first: bool = False) -> None:
    """Stop them all at once. `interrupt_first`: the first gets SIGINT, which uvicorn turns into
    KeyboardInterrupt once shut down, so cProfile writes its stats (SIGTERM's default action would kill it)."""
    for i, proc in enumerate(procs):
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT) if interrupt_first and i == 0 else proc.terminate()
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
