"""`leadflow bench intake`: intake's throughput and latency against a large dedupe base, beside the raw
Postgres ceiling measured in the same run (figures, not a pass/fail test)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from typing import Annotated, Any

import asyncpg
import httpx
import typer
from rich.console import Console
from rich.progress import Progress

from leadflow_benchmarks import common
from leadflow_benchmarks.common import (
    SURNAMES,
    bench_database,
    cpu_seconds,
    log_path,
    machine_busy,
    mobile as _mobile,
    pct,
    recreate_bench_database,
    report_table,
    service_env,
    stack_env,
    wait_ready,
)
from leadflow_intake.cli import add_partner
from leadflow_intake.db import IntakeRepository, metadata
from leadflow_intake.domain.lead import clean
from leadflow_intake.domain.risk import RiskPolicy
from leadflow_intake.handlers import SubmissionPipeline
from leadflow_shared.db import Database
from leadflow_shared.normalize import company_name, typo_variants

console = Console(soft_wrap=True)

BRANDS = ["华信", "东方", "星辰", "云海", "博远", "启明", "天宇", "恒通", "瑞达", "新创", "金桥", "万象", "卓越", "鼎盛"]
TRADES = ["科技", "网络技术", "信息技术", "软件", "电子商务", "智能制造", "医疗器械", "教育科技", "物流", "咨询"]
CITIES = ["上海", "北京", "深圳", "杭州", "广州", "成都", "南京", "武汉"]


def _company(i: int) -> str:
    return common.company(i, CITIES, TRADES)


def bench(
    existing: Annotated[int, typer.Option(help="leads already in the dedupe base")] = 1_000_000,
    batches: Annotated[int, typer.Option(help="batches of 1,000 posted to /v1/leads/batch")] = 30,
    rps: Annotated[int, typer.Option(help="single-lead POSTs per second for the latency run")] = 200,
    seconds: Annotated[int, typer.Option(help="length of the latency run")] = 20,
    workers: Annotated[int, typer.Option(help="intake's HTTP worker processes (LEADFLOW_HTTP_WORKERS)")] = 1,
    keep_base: Annotated[bool, typer.Option(help="reuse a dedupe base seeded by an earlier run")] = False,
    skip_batch: Annotated[bool, typer.Option(help="leave out the batch run (e.g. to profile single POSTs)")] = False,
) -> None:
    """Seed a dedupe base, then measure the batch API, single-POST latency and the dedupe lookup."""
    env = stack_env()
    common.run(_bench(env, existing, 0 if skip_batch else batches, rps, seconds, workers, keep_base), console)


async def _bench(env: dict[str, str], existing: int, batches: int, rps: int, seconds: int, workers: int,
                 keep_base: bool) -> None:
    from leadflow_intake.app import service

    admin = env["LEADFLOW_PG_DSN"]
    name = "leadflow_bench"
    dsn, plain = bench_database(admin, name)
    seeded = await _existing_base(plain) if keep_base else 0
    if seeded < existing:
        await recreate_bench_database(admin, name)
    await asyncio.to_thread(service.migrate, dsn)  # a kept base follows the migrations that came since
    if seeded < existing:
        seeded = await _seed(plain, existing)
    ceiling = await _raw_ceiling(plain, max(batches, 10))
    _, key = await asyncio.to_thread(add_partner, "bench", 100_000.0, dsn)
    proc_env = service_env(env, dsn, topic_prefix="bench.", group_prefix=f"bench-{uuid.uuid4().hex[:6]}",
                           port=18901, workers=workers, LEADFLOW_INTAKE_MAX_LEADS_PER_IP="1000000")
    log_file = log_path("intake")
    log = open(log_file, "wb")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "leadflow_intake", env=proc_env,
                                                stdout=log, stderr=log)
    try:
        url = "http://127.0.0.1:18901"
        await wait_ready(url, "intake", proc, log_file, poll_s=0.5)
        headers = {"Authorization": f"Bearer {key}"}
        batch_rate, drained_rate = (await _batch_run(url, headers, plain, existing, batches)) if batches else (0.0, 0.0)
        cpu_before, machine_before = cpu_seconds(proc.pid), machine_busy()
        latencies, achieved = await _latency_run(url, headers, existing, rps, seconds)
        cpu_per_post = (cpu_seconds(proc.pid) - cpu_before) / max(1, len(latencies))
        busy = machine_busy(since=machine_before)
        lookups = await _lookup_run(dsn, existing)
    finally:
        proc.terminate()
        await proc.wait()
    table = report_table(f"intake benchmark ({os.cpu_count()} cores, {seeded:,} leads in the dedupe base, "
                         f"{workers} HTTP worker{'s' if workers > 1 else ''})")
    table.add_row("batch API, leads/s accepted (HTTP 202)", f"{batch_rate:,.0f}", f"{ceiling:,.0f}",
                  f"{batch_rate / ceiling:.0%}")
    table.add_row("batch API, leads/s until every event is in Kafka", f"{drained_rate:,.0f}", f"{ceiling:,.0f}",
                  f"{drained_rate / ceiling:.0%}")
    table.add_row(f"single POST at {rps}/s ({achieved:.0f}/s achieved): p50 / p99 ms",
                  f"{pct(latencies, .5):.1f} / {pct(latencies, .99):.1f}", "", "")
    table.add_row("intake CPU per single POST (all its processes), ms; machine busy during the run",
                  f"{cpu_per_post * 1000:.2f}; {busy:.0%} of {os.cpu_count()} cores", "", "")
    table.add_row("dedupe lookup (contacts, their leads, company candidates): p50 / p99 ms",
                  f"{pct(lookups, .5):.2f} / {pct(lookups, .99):.2f}", "", "")
    console.print(table)
    console.print("raw ceiling: the same rows (lead, contacts, submission, outbox event) inserted by plain "
                  "batched INSERTs into identically indexed tables, no application code.")


async def _existing_base(dsn: str) -> int:
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        return 0
    try:
        return int(await conn.fetchval("SELECT count(*) FROM intake.leads WHERE id < $1", uuid.UUID(int=2 * 10**12)))
    finally:
        await conn.close()


async def _seed(dsn: str, count: int) -> int:
    """COPY `count` leads with their contacts and companies (one company per 5 leads)."""
    conn = await asyncpg.connect(dsn)
    try:
        chunk = 50_000
        with Progress(console=console) as progress:
            task = progress.add_task("seeding the dedupe base", total=count)
            for start in range(0, count, chunk):
                ids = range(start, min(count, start + chunk))
                companies, variants, leads, contacts = [], [], [], []
                for i in ids:
                    company_id = uuid.UUID(int=i // 5 + 1)
                    if i % 5 == 0:
                        parsed = company_name(_company(i // 5))
                        companies.append((company_id, _company(i // 5), parsed.core, parsed.region, CITIES[(i // 5) % 8]))
                        variants += [(v, company_id) for v in typo_variants(parsed.core)]
                    lead_id = uuid.UUID(int=10**12 + i)
                    leads.append((lead_id, f'{{"name": "{SURNAMES[i % 20]}{i}", "mobile": "{_mobile(i)}"}}',
                                  "assigned", company_id))
                    contacts += [(f"mobile:{_mobile(i)}", lead_id), (f"email:lead{i}@example.cn", lead_id)]
                await conn.copy_records_to_table("companies", schema_name="intake", records=companies,
                                                 columns=["id", "name", "core", "region", "city"])
                await conn.copy_records_to_table("company_variants", schema_name="intake", records=variants,
                                                 columns=["variant", "company_id"])
                await conn.copy_records_to_table("leads", schema_name="intake", records=leads,
                                                 columns=["id", "fields", "status", "company_id"])
                await conn.copy_records_to_table("lead_contacts", schema_name="intake", records=contacts,
                                                 columns=["key", "lead_id"])
                progress.update(task, advance=len(ids))
        await conn.execute("ANALYZE intake.leads; ANALYZE intake.lead_contacts; ANALYZE intake.companies; "
                           "ANALYZE intake.company_variants")
        return int(await conn.fetchval("SELECT count(*) FROM intake.leads"))
    finally:
        await conn.close()


async def _raw_ceiling(dsn: str, batches: int) -> float:
    """Plain batched INSERTs of the rows 1,000 leads make, into copies of the real tables."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS bench_raw CASCADE; CREATE SCHEMA bench_raw")
        for table in ("leads", "lead_contacts", "submissions", "outbox"):
            await conn.execute(f"CREATE TABLE bench_raw.{table} (LIKE intake.{table} INCLUDING ALL)")
        started = time.perf_counter()
        for b in range(batches):
            base = 5 * 10**7 + b * 1000
            ids = [uuid.uuid4() for _ in range(1000)]
            async with conn.transaction():
                await conn.executemany("INSERT INTO bench_raw.leads (id, fields, status) VALUES ($1, $2, 'received')",
                                       [(i, f'{{"mobile": "{_mobile(base + n)}"}}') for n, i in enumerate(ids)])
                await conn.executemany("INSERT INTO bench_raw.lead_contacts (key, lead_id) VALUES ($1, $2)",
                                       [(f"mobile:{_mobile(base + n)}", i) for n, i in enumerate(ids)])
                await conn.executemany("INSERT INTO bench_raw.submissions (id, lead_id, outcome, fields) "
                                       "VALUES ($1, $2, 'created', $3)",
                                       [(uuid.uuid4(), i, f'{{"mobile": "{_mobile(base + n)}"}}') for n, i in enumerate(ids)])
                await conn.executemany("INSERT INTO bench_raw.outbox (event_id, topic, key, payload, headers) "
                                       "VALUES ($1, 'leads.received.v1', $2, $3, '{}')",
                                       [(uuid.uuid4(), str(i), '{"data": {}}') for i in ids])
        return batches * 1000 / (time.perf_counter() - started)
    finally:
        await conn.close()


def _batch_leads(b: int, existing: int) -> list[dict[str, Any]]:
    """1,000 leads: 90% new people, 10% people already in the base (merges), all with companies."""
    rng = random.Random()
    leads = []
    for n in range(1000):
        if n % 10 == 0:
            i = rng.randrange(existing)
            leads.append({"name": f"{SURNAMES[i % 20]}{i}", "mobile": _mobile(i)[3:], "company_name": _company(i // 5)})
        else:
            i = rng.randrange(10**8)  # a new person: +86138… numbers are never seeded
            leads.append({"name": f"新{i}", "mobile": f"+86138{i:08d}", "email": f"n{uuid.uuid4().hex[:12]}@example.cn",
                          "company_name": _company(rng.randrange(existing // 5 + 1000)), "city": CITIES[n % 8],
                          "source": "channel_partner"})
    return leads


async def _batch_run(url: str, headers: dict[str, str], dsn: str, existing: int, batches: int) -> tuple[float, float]:
    payloads = [{"leads": _batch_leads(b, existing)} for b in range(batches)]
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            reply = await client.post("/v1/leads/batch", json=queue.get_nowait())
            if reply.status_code != 202:
                raise RuntimeError(f"batch refused: {reply.status_code} {reply.text[:300]}")

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(2)))
        accepted = time.perf_counter() - started
    conn = await asyncpg.connect(dsn)
    try:
        # What the relay has left (parked rows never leave), as its partial index has it: `sent_at IS NULL`
        # alone was a parallel scan of the whole kept outbox, half a second a poll beside the service.
        while await conn.fetchval("SELECT count(*) FROM intake.outbox WHERE sent_at IS NULL AND failed_at IS NULL"):
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    drained = time.perf_counter() - started
    return batches * 1000 / accepted, batches * 1000 / drained


class RawHttp:
    """A bare HTTP/1.1 keep-alive client (what wrk does): the load generator shares the 2 cores with
    the server, so it must cost far less per request than httpx does."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        host_port = url.removeprefix("http://")
        self.host, _, port = host_port.partition(":")
        self.port = int(port or 80)
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.idle:
            try:
                return await self._post(*self.idle.pop(), path, body)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass  # the server closed the idle connection (keep-alive timeout): a new one, as browsers do
        return await self._post(*await asyncio.open_connection(self.host, self.port), path, body)

    async def _post(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                    body: bytes) -> tuple[int, bytes]:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.head}Content-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
        answer = await reader.readexactly(length)
        self.idle.append((reader, writer))
        return int(lines[0].split(" ", 2)[1]), answer

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def _latency_run(url: str, headers: dict[str, str], existing: int, rps: int, seconds: int
                       ) -> tuple[list[float], float]:
    """Open loop: a POST every 1/rps seconds, whatever the answers take (no coordinated omission)."""
    latencies: list[float] = []
    failures: list[str] = []
    client = RawHttp(url, headers)

    async def one(n: int) -> None:
        i = random.randrange(10**8)
        body = {"name": f"单{i}", "mobile": f"+86137{i:08d}", "company_name": _company(n % (existing // 5 + 1))}
        started = time.perf_counter()
        try:
            status, answer = await client.post("/v1/leads", json.dumps(body).encode())
        except (OSError, asyncio.IncompleteReadError) as exc:
            failures.append(repr(exc))
            return
        latencies.append(time.perf_counter() - started)
        if status != 202:
            failures.append(f"{status} {answer[:200]!r}")

    for n in range(200):  # warm-up, not timed: lazily loaded dictionaries (OpenCC, phone metadata), pools
        await client.post("/v1/leads", json.dumps({"name": f"热{n}", "mobile": f"+86136{random.randrange(10**8):08d}",
                                                    "company_name": _company(n)}).encode())
    tasks = []
    start = time.perf_counter()
    try:
        for n in range(rps * seconds):
            delay = start + n / rps - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    finally:
        client.close()
    achieved = len(tasks) / (time.perf_counter() - start)
    if failures:
        console.print(f"[yellow]{len(failures)} of {len(tasks)} single POSTs failed, e.g. {failures[0]}[/]")
    return latencies, achieved


async def _lookup_run(dsn: str, existing: int, count: int = 2000) -> list[float]:
    """The dedupe base's lookup for one lead, as the pipeline makes it: its contacts' leads, and its company's
    candidates by core, one-typo variants and tolerant readings. A quarter of the names are written right, a
    quarter with a typo in the core, a quarter with a slip in the legal form, a quarter in the region."""
    db = Database(dsn, metadata, "/bench", pool_size=2)
    rng = random.Random(7)
    pipeline = SubmissionPipeline(RiskPolicy())
    timings: list[float] = []
    try:
        async with db.uow() as uow:
            repo = IntakeRepository(uow.session)
            for n in range(count):
                i = rng.randrange(existing)
                name = _company(i // 5)
                name = [name, name[:3] + "新" + name[4:], name.replace("有限公司", "有限公可"),
                        name[0] + "中" + name[2:]][n % 4]
                lead = clean({"mobile": _mobile(i), "email": f"lead{i}@example.cn", "company_name": name})
                assert not isinstance(lead, list), lead
                started = time.perf_counter()
                await pipeline.look_up(repo, [lead])
                timings.append(time.perf_counter() - started)
    finally:
        await db.dispose()
    return timings
