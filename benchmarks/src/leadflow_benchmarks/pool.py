"""`leadflow bench pool`: claims under 50 concurrent reps through HTTP (tokens verified), beside a plain
Postgres row-lock round trip at the same concurrency; 100,000 live ownership workflows on the local Temporal
dev server, beside the server's raw start rate of a trivial workflow; and 10,000 deadlines due in the same
minute, with how late each recycle came.

The run: a fresh database (`leadflow_bench_pool`) with a pools document; the pool service as it runs
(`python -m leadflow_pool`: HTTP, consumers, the Temporal worker) on its own topics and task queue; the
workflows are started through the same client call the service makes (`start_ownership`) and terminated at
the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer
from rich.console import Console
from temporalio import workflow

from leadflow_benchmarks import common
from leadflow_benchmarks.common import (
    Figures,
    bench_database,
    cpu_seconds,
    free_port,
    log_path,
    pct,
    peak_rss,
    recreate_bench_database,
    service_env,
    stack_env,
    wait_ready,
)

console = Console(soft_wrap=True, width=max(140, Console().width))

DATABASE = "leadflow_bench_pool"
POOL = "bench-pool"


def bench(
    reps: Annotated[int, typer.Option(help="reps claiming at once")] = 50,
    claim_seconds: Annotated[float, typer.Option(help="how long the reps claim")] = 20.0,
    claim_interval: Annotated[float, typer.Option(help="seconds between one rep's claims (a person's pace)")] = 1.0,
    workflows: Annotated[int, typer.Option(help="live ownership workflows to start")] = 100_000,
    deadlines: Annotated[int, typer.Option(help="ownerships whose deadline falls in the same minute")] = 10_000,
    concurrency: Annotated[int, typer.Option(help="workflow starts in flight at once")] = 64,
    keep_workflows: Annotated[bool, typer.Option(help="leave the workflows running (else terminated)")] = False,
) -> None:
    """Claim latency under concurrent reps; live ownership workflows; deadlines due at once and their lateness."""
    env = stack_env(["postgres", "kafka", "temporal"])
    common.run(_bench(env, reps, claim_seconds, claim_interval, workflows, deadlines, concurrency, keep_workflows),
               console)


async def _bench(env: dict[str, str], n_reps: int, claim_seconds: float, claim_interval: float, n_workflows: int,
                 n_deadlines: int, concurrency: int, keep: bool) -> None:
    from leadflow_pool.app import service

    admin_dsn = env["LEADFLOW_PG_DSN"]
    dsn, plain = bench_database(admin_dsn, DATABASE)
    run = uuid.uuid4().hex[:8]
    queue = f"bench-pool-{run}"
    await recreate_bench_database(admin_dsn, DATABASE)
    await asyncio.to_thread(service.migrate, dsn)
    await _store_pools(plain)
    figures = Figures()
    port = free_port()
    log_file = log_path("pool")
    proc_env = service_env(env, dsn, topic_prefix=f"bench-pool-{run}.", group_prefix=f"bench-{run}", port=port,
                           LEADFLOW_POOL_TASK_QUEUE=queue, LEADFLOW_COLLUSION_SCAN_S="3600",
                           LEADFLOW_REACTIVATION_ENABLED="false", LEADFLOW_TEMPORAL_WORKER="false")
    url = f"http://127.0.0.1:{port}"
    with open(log_file, "wb") as log:
        # as deployed: the API and consumers in one process, the Temporal worker in another
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "leadflow_pool", env=proc_env,
                                                    stdout=log, stderr=log)
        worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "leadflow_pool.worker", env=proc_env,
                                                      stdout=log, stderr=log)
        try:
            await wait_ready(url, "pool", proc, log_file)
            await _warn_of_a_busy_server(env)
            await _claims(env, plain, url, n_reps, claim_seconds, claim_interval, proc.pid, figures)
            # deadlines before the big start: they time the deadlines, not the worker's backlog of first tasks
            await _deadlines(env, plain, queue, n_deadlines, concurrency, figures)
            await _live_workflows(env, queue, n_workflows, concurrency, worker.pid, figures)
            figures.add("pool API process / worker process peak RSS (VmHWM)",
                        f"{(peak_rss(proc.pid) or 0) / 2**20:,.0f} / {(peak_rss(worker.pid) or 0) / 2**20:,.0f} MiB")
        finally:
            if worker.returncode is None:
                worker.terminate()
                await worker.wait()
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            if not keep:
                await terminate_workflows(env, queue)
    _report(figures, n_reps, n_workflows, n_deadlines, log_file)


async def _store_pools(dsn: str) -> None:
    from leadflow_pool.domain.pools import parse_pools

    document = parse_pools({"default_pool": POOL, "pools": [{
        "id": POOL, "claimers": {"roles": ["rep"]},
        "rules": {"max_held": 1_000_000, "claims_per_day": 1_000_000, "cooldown_days": 0}}]})
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO pool.pool_documents (document, created_by) VALUES ($1::jsonb, 'bench')",
                           json.dumps(document.document()))
    finally:
        await conn.close()


async def _insert_leads(dsn: str, n: int, **columns: Any) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    rng = random.Random(20261205)
    rows = [(i, columns.get("pool_id", POOL), columns.get("status", "in_pool"), columns.get("owner_id"),
             columns.get("ownership_seq", 0), rng.choice("ABCD"), rng.uniform(0, 100), f"+86138{k:08d}")
            for k, i in enumerate(ids)]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("pool_leads", schema_name="pool", records=rows, columns=[
            "lead_id", "pool_id", "status", "owner_id", "ownership_seq", "grade", "score", "mobile"])
    finally:
        await conn.close()
    return ids


# ---- claims ----------------------------------------------------------------------------------------

async def _claims(env: dict[str, str], dsn: str, url: str, n_reps: int, seconds: float, interval: float, pid: int,
                  figures: Figures) -> None:
    """Reps at a person's pace (one claim every `interval` seconds each, started out of step); then every rep at
    once on the same lead, a round at a time (a contested lead: one wins, the others get 409); then the same
    reps claiming as fast as they can (the capacity)."""
    from leadflow_localstack.testing import staff_key_env, staff_token_for

    keys = {**env, **staff_key_env()}
    per_rep = int(seconds / interval) + int(seconds * 40) + 10
    leads = await _insert_leads(dsn, n_reps * per_rep + 20)
    contested, own = leads[:20], leads[20:]
    tokens = [staff_token_for(keys, f"bench-rep-{i}", "rep", ttl=timedelta(hours=2)) for i in range(n_reps)]
    paced: list[float] = []
    won: list[float] = []
    lost: list[float] = []

    async def claim(client: httpx.AsyncClient, lead: uuid.UUID, token: str, into: list[float]) -> None:
        t0 = time.perf_counter()
        reply = await client.post(f"/v1/leads/{lead}/claim", headers={"Authorization": token})
        into.append(time.perf_counter() - t0)
        if reply.status_code == 200:
            won.append(into[-1])
        elif reply.status_code == 409:
            lost.append(into[-1])
        else:
            raise RuntimeError(f"claim answered {reply.status_code}: {reply.text[:300]}")

    async def rep(client: httpx.AsyncClient, i: int, mine: list[uuid.UUID], until: float, pace: float) -> int:
        await asyncio.sleep(pace * i / n_reps)  # out of step, as people are
        done = 0
        for lead in mine:
            if time.perf_counter() > until:
                break
            began = time.perf_counter()
            await claim(client, lead, tokens[i], paced if pace else capacity)
            done += 1
            await asyncio.sleep(max(0.0, pace - (time.perf_counter() - began)))
        return done

    capacity: list[float] = []
    limits = httpx.Limits(max_connections=n_reps + 10, max_keepalive_connections=n_reps + 10)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        await claim(client, own[-1], tokens[0], [])  # warm up the connection and the verifier
        won.clear()
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        with console.status(f"{n_reps} reps claiming one lead every {interval:g} s for {seconds:.0f} s…"):
            await asyncio.gather(*(rep(client, i, own[i * per_rep:(i + 1) * per_rep], started + seconds, interval)
                                   for i in range(n_reps)))
        cpu = cpu_seconds(pid) - cpu_before
        n_paced = len(paced)
        won.clear()
        bursts: list[float] = []
        with console.status(f"{len(contested)} rounds of all {n_reps} reps on one lead…"):
            for lead in contested:
                await asyncio.gather(*(claim(client, lead, token, bursts) for token in tokens))
                await asyncio.sleep(0.2)
        winners_ms, losers_ms = list(won), list(lost)
        with console.status(f"{n_reps} reps claiming as fast as they can for {min(seconds, 10):.0f} s…"):
            began = time.perf_counter()
            counts = await asyncio.gather(*(rep(client, i, own[(i + 1) * per_rep - int(seconds * 40):(i + 1) * per_rep],
                                                began + min(seconds, 10), 0.0) for i in range(n_reps)))
            flat_out = sum(counts) / (time.perf_counter() - began)
    ceiling = await _postgres_ceiling(dsn, n_reps, min(seconds, 10))
    figures.add(f"claims through HTTP, {n_reps} reps each every {interval:g} s ({n_paced / seconds:,.0f}/s offered): "
                "p50 / p95 / p99 ms",
                f"{pct(paced, .5):.1f} / {pct(paced, .95):.1f} / {pct(paced, .99):.1f}",
                f"{ceiling['p50']:.1f} / {ceiling['p95']:.1f} / {ceiling['p99']:.1f}", "p99 < 20 ms",
                pct(paced, .99) < 20)
    figures.add(f"{len(contested)} rounds of all {n_reps} reps at once on one lead: winner / 409 p99 ms",
                f"{pct(winners_ms, .99):.1f} / {pct(losers_ms, .99):.1f}" if winners_ms and losers_ms else "–")
    figures.add(f"claims/s with {n_reps} reps flat out (capacity): p99 ms",
                f"{flat_out:,.0f}/s: {pct(capacity, .99):.1f}", f"{ceiling['rate']:,.0f}/s: {ceiling['p99']:.1f}")
    winners = await _winners(dsn, contested)
    figures.add(f"contested leads ({len(contested)}, {n_reps} claimers each): owners", f"{winners} of {len(contested)}",
                "", "exactly one each", winners == len(contested))
    figures.add("pool API process CPU per paced claim (the workflow start by its consumer included)",
                f"{cpu / max(1, n_paced) * 1000:.2f} ms")


async def _winners(dsn: str, leads: list[uuid.UUID]) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        claims = await conn.fetch("SELECT lead_id, count(*) AS n FROM pool.timeline WHERE kind = 'claimed' AND "
                                  "lead_id = ANY($1::uuid[]) GROUP BY lead_id", leads)
    finally:
        await conn.close()
    return sum(1 for c in claims if c["n"] == 1)


async def _postgres_ceiling(dsn: str, connections: int, seconds: float) -> dict[str, float]:
    """The raw ceiling of a claim: one plain `UPDATE … WHERE status = 'in_pool' RETURNING` round trip per call,
    from as many connections at once (no HTTP, no token, no rules, no outbox)."""
    leads = await _insert_leads(dsn, connections * 3000)
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    timings: list[float] = []
    started = time.perf_counter()

    async def worker(i: int) -> None:
        async with pool.acquire() as conn:
            for lead in leads[i::connections]:
                if time.perf_counter() - started > seconds:
                    return
                t0 = time.perf_counter()
                await conn.fetchrow("UPDATE pool.pool_leads SET status = 'owned', owner_id = $2 "
                                    "WHERE lead_id = $1 AND status = 'in_pool' RETURNING lead_id", lead, f"raw-{i}")
                timings.append(time.perf_counter() - t0)

    try:
        await asyncio.gather(*(worker(i) for i in range(connections)))
    finally:
        await pool.close()
    busy = time.perf_counter() - started
    return {"p50": pct(timings, .5), "p95": pct(timings, .95), "p99": pct(timings, .99),
            "rate": len(timings) / busy}


# ---- live workflows ----------------------------------------------------------------------------------

def _terms(lead_id: uuid.UUID, first: datetime, conversion: datetime, remind_s: float) -> Any:
    from leadflow_pool.domain.model import OwnershipTerms

    return OwnershipTerms(lead_id=str(lead_id), owner_id="bench-rep", pool_id=POOL, seq=1, first_follow_up=first,
                          inactivity=None, conversion=conversion, protected_until=None, remind_before_s=remind_s)


async def _start_many(n: int, concurrency: int, start: Callable[[int], Awaitable[None]], label: str) -> float:
    """Start n workflows, `concurrency` at a time, with a progress bar; returns the seconds it took."""
    semaphore = asyncio.Semaphore(concurrency)
    began = time.perf_counter()
    with common.progress(console) as progress:
        task = progress.add_task(label, total=n)

        async def one(i: int) -> None:
            async with semaphore:
                await start(i)
            progress.advance(task)

        for chunk in range(0, n, 5000):
            await asyncio.gather(*(one(i) for i in range(chunk, min(n, chunk + 5000))))
    return time.perf_counter() - began


async def _live_workflows(env: dict[str, str], queue: str, n: int, concurrency: int, pool_pid: int,
                          figures: Figures) -> None:
    from temporalio.client import Client

    from leadflow_pool.settings import PoolSettings
    from leadflow_pool.temporal import TemporalWorker

    client = await Client.connect(env["LEADFLOW_TEMPORAL_ADDRESS"])
    raw_n = min(5_000, n)

    async def raw(i: int) -> None:  # a workflow type nobody runs: the start RPC alone, the server's ceiling
        await client.start_workflow("BenchNoop", id=f"{queue}-raw-{i}", task_queue=f"{queue}-raw")

    raw_s = await _start_many(raw_n, concurrency, raw, "raw starts (Temporal's ceiling)")
    starter = TemporalWorker(PoolSettings(temporal_address=env["LEADFLOW_TEMPORAL_ADDRESS"],
                                          pool_task_queue=queue), db=None)  # type: ignore[arg-type]
    starter.client = client
    far = datetime.now(UTC) + timedelta(days=30)
    leads = [uuid.uuid4() for _ in range(n)]
    server = _temporal_pid(env["LEADFLOW_TEMPORAL_ADDRESS"])
    cpu_server, cpu_pool = cpu_seconds(server) if server else 0.0, cpu_seconds(pool_pid)

    async def ownership(i: int) -> None:
        await starter.start_ownership(_terms(leads[i], far, far + timedelta(days=30), 4 * 3600))

    took = await _start_many(n, concurrency, ownership, "ownership workflows")
    settled = await _until_started(client, queue, n)
    figures.add(f"ownership workflows started ({n:,}): starts/s", f"{n / took:,.0f}", f"{raw_n / raw_s:,.0f}")
    figures.add("… until the server counts them all running (visibility)", f"{settled + took:,.0f} s", "",
                "100,000 live", n >= 100_000 or None)
    if server:
        figures.add("Temporal dev server: CPU during the starts / RSS now",
                    f"{cpu_seconds(server) - cpu_server:,.0f} s / {_rss(server) / 2**20:,.0f} MiB")
    figures.add("pool worker process: CPU during the starts / RSS now",
                f"{cpu_seconds(pool_pid) - cpu_pool:,.0f} s / {_rss(pool_pid) / 2**20:,.0f} MiB")


async def _until_started(client: Any, queue: str, n: int, timeout_s: float = 900) -> float:
    """Seconds until the visibility store counts `n` running ownership workflows on the queue."""
    began = time.perf_counter()
    query = f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running' AND WorkflowType = 'Ownership'"
    while time.perf_counter() - began < timeout_s:
        if (await client.count_workflows(query)).count >= n:
            break
        await asyncio.sleep(2)
    return time.perf_counter() - began


# ---- deadlines due at once -----------------------------------------------------------------------------

async def _deadlines(env: dict[str, str], dsn: str, queue: str, n: int, concurrency: int, figures: Figures) -> None:
    """n ownerships whose deadline falls in the same minute, recycled by the worker; beside them the same number
    of bare timers on the same server (the raw ceiling: a workflow that only waits for its instant)."""
    from temporalio.client import Client

    from leadflow_pool.settings import PoolSettings
    from leadflow_pool.temporal import TemporalWorker

    leads = await _insert_leads(dsn, n, status="owned", owner_id="bench-rep", ownership_seq=1)
    client = await Client.connect(env["LEADFLOW_TEMPORAL_ADDRESS"])
    starter = TemporalWorker(PoolSettings(temporal_address=env["LEADFLOW_TEMPORAL_ADDRESS"],
                                          pool_task_queue=queue), db=None)  # type: ignore[arg-type]
    starter.client = client
    minute, due = _minute_ahead(n)

    async def ownership(i: int) -> None:
        await starter.start_ownership(_terms(leads[i], due[i], due[i] + timedelta(days=30), 0))

    await _start_many(n, concurrency, ownership, f"{n:,} ownerships due in the minute from {minute:%H:%M}")
    conn = await asyncpg.connect(dsn)
    try:
        async def recycled() -> int:
            return int(await conn.fetchval("SELECT count(*) FROM pool.timeline WHERE kind = 'recycled'"))

        await _until_fired(recycled, n, minute, "waiting for the deadline and the recycles")
        fired_at = {r["lead_id"]: r["at"] for r in await conn.fetch(
            "SELECT lead_id, at FROM pool.timeline WHERE kind = 'recycled'")}
        late = [float((fired_at[lead] - due[i]).total_seconds()) for i, lead in enumerate(leads) if lead in fired_at]
    finally:
        await conn.close()
    raw = await _bare_timers(client, f"{queue}-raw-timers", n, concurrency)
    figures.add(f"deadlines due in the same minute ({n:,}): recycled", f"{len(late):,}", "", f"{n:,}", len(late) == n)
    figures.add("lateness after the deadline (recycle; bare timer): p50 / p95 / p99 / max s", _lateness(late),
                _lateness(raw), "p99 < 1 s", bool(late) and pct(late, .99) / 1000 < 1)


def _minute_ahead(n: int) -> tuple[datetime, list[datetime]]:
    """A minute far enough ahead for n starts to land first, and n instants spread over it."""
    minute = (datetime.now(UTC) + timedelta(seconds=90 + n / 40)).replace(second=0, microsecond=0)
    return minute, [minute + timedelta(seconds=60 * i / n) for i in range(n)]


async def _until_fired(count: Callable[[], Awaitable[int]], n: int, minute: datetime, label: str) -> None:
    with common.progress(console) as progress:
        task = progress.add_task(label, total=n)
        while True:
            fired = await count()
            progress.update(task, completed=fired)
            if fired >= n or datetime.now(UTC) > minute + timedelta(minutes=11):
                return
            await asyncio.sleep(1)


def _lateness(late: list[float]) -> str:
    if not late:
        return "–"
    return (f"{pct(late, .5) / 1000:.2f} / {pct(late, .95) / 1000:.2f} / {pct(late, .99) / 1000:.2f} / "
            f"{max(late):.2f}")


_WOKE_LATE: list[float] = []


@workflow.defn(name="BenchDeadline", sandboxed=False)
class BenchDeadline:
    """The raw ceiling of a deadline: waits for its instant and ends; its worker, in the bench's process,
    notes how late it woke."""

    @workflow.run
    async def run(self, due: str) -> None:
        at = datetime.fromisoformat(due)
        if at > workflow.now():
            await workflow.sleep(at - workflow.now())
        if not workflow.unsafe.is_replaying():
            _WOKE_LATE.append((datetime.now(UTC) - at).total_seconds())


async def _bare_timers(client: Any, queue: str, n: int, concurrency: int) -> list[float]:
    from temporalio.worker import Worker

    _WOKE_LATE.clear()
    minute, due = _minute_ahead(n)

    async def start(i: int) -> None:
        await client.start_workflow(BenchDeadline.run, due[i].isoformat(), id=f"{queue}-{i}", task_queue=queue)

    async with Worker(client, task_queue=queue, workflows=[BenchDeadline]):
        await _start_many(n, concurrency, start, f"{n:,} bare timers due in the minute from {minute:%H:%M} (ceiling)")

        async def woke() -> int:
            return len(_WOKE_LATE)

        await _until_fired(woke, n, minute, "waiting for the bare timers")
    return list(_WOKE_LATE)


async def terminate_workflows(env: dict[str, str], queue: str) -> None:
    """The bench's workflows end with it: a batch termination by task queue (the raw ones too)."""
    from temporalio.api.batch.v1 import BatchOperationTermination
    from temporalio.api.workflowservice.v1 import StartBatchOperationRequest
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode

    client = await Client.connect(env["LEADFLOW_TEMPORAL_ADDRESS"])
    request = StartBatchOperationRequest(
        namespace=client.namespace, job_id=str(uuid.uuid4()), reason="bench over",
        visibility_query=f"(TaskQueue = '{queue}' OR TaskQueue = '{queue}-raw' OR TaskQueue = '{queue}-raw-timers') "
                         "AND ExecutionStatus = 'Running'",
        termination_operation=BatchOperationTermination(identity="leadflow-bench"))
    for _ in range(60):  # the dev server runs one batch operation at a time
        try:
            await client.workflow_service.start_batch_operation(request)
            break
        except RPCError as exc:
            if exc.status != RPCStatusCode.RESOURCE_EXHAUSTED:
                raise
            await asyncio.sleep(2)
    console.print(f"terminating the bench's workflows (task queue {queue}) in the background on the server")


async def await_earlier_terminations(env: dict[str, str], timeout_s: float = 900) -> None:
    """An earlier bench's batch termination still at work on the server takes its CPU from this one's figures:
    wait for it first (bounded)."""
    from temporalio.api.enums.v1 import BatchOperationState
    from temporalio.api.workflowservice.v1 import ListBatchOperationsRequest
    from temporalio.client import Client

    client = await Client.connect(env["LEADFLOW_TEMPORAL_ADDRESS"])
    deadline = time.monotonic() + timeout_s
    with console.status("waiting for an earlier bench's workflows to be terminated on the server"):
        while time.monotonic() < deadline:
            listed = await client.workflow_service.list_batch_operations(
                ListBatchOperationsRequest(namespace=client.namespace, page_size=100))
            if not any(op.state == BatchOperationState.BATCH_OPERATION_STATE_RUNNING for op in listed.operation_info):
                return
            await asyncio.sleep(2)
    console.print("[yellow]an earlier batch termination still runs on the server: it shares the CPU[/]")


async def _warn_of_a_busy_server(env: dict[str, str]) -> None:
    """Workflows left running on the server (a run kept with --keep-workflows, another bench) slow every figure
    here: say so before measuring."""
    from temporalio.client import Client

    client = await Client.connect(env["LEADFLOW_TEMPORAL_ADDRESS"])
    running = (await client.count_workflows("ExecutionStatus = 'Running'")).count
    if running > 1_000:
        console.print(f"[yellow]the Temporal server already runs {running:,} workflows: every figure below is "
                      "slower for it (a local dev server: `leadflow stack down`, delete .local/temporal, `up`)[/]")


# ---- processes and report ----------------------------------------------------------------------------

def _temporal_pid(address: str) -> int | None:
    """The local Temporal dev server's pid (its command line names the frontend port), if it runs here."""
    port = address.rsplit(":", 1)[-1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "temporal" in cmdline and "start-dev" in cmdline and port in cmdline:
            return int(entry.name)
    return None


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _report(figures: Figures, n_reps: int, n_workflows: int, n_deadlines: int, log_file: Path) -> None:
    figures.print(console, f"pool benchmark ({os.cpu_count()} cores, {n_reps} reps, {n_workflows:,} workflows, "
                           f"{n_deadlines:,} deadlines at once)",
                  "raw ceilings: claims beside one plain `UPDATE … RETURNING` per call from as many Postgres "
                  "connections; workflow starts beside start RPCs of a workflow type no worker runs. "
                  f"Service log: {log_file}")
