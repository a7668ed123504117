"""`leadflow bench replay SERVICE`: how a consumer service's throughput moves with its replicas, measured on the
events a real run of the path wrote.

The run:
1. A fresh database (`leadflow_bench_replay`), every service migrated, the e2e bench's organisation, rules,
   pools and partner: the template every later step copies (`CREATE DATABASE … TEMPLATE`).
2. Recording: intake, scoring and assignment (one process each) on a copy and on topics of their own;
   `--leads` leads posted through the partner API until every one is routed. Their topics now hold what a
   downstream consumer sees: leads.received, leads.scored, leads.assigned / pooled / queued.
3. Replays, back to back, for each count of `--instances` (`--rounds` times over): the recorded events
   produced to fresh topics, a fresh copy of the template, then that many processes of SERVICE in one set of
   consumer groups. The headline: the events applied from the moment every process was ready (its groups
   joined) to the last of those in the topics it subscribes to (its `processed_events`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console

from leadflow_benchmarks import common, e2e
from leadflow_benchmarks.common import Figures, bench_database, cpu_seconds, recreate_bench_database, stack_env
from leadflow_benchmarks.pool import terminate_workflows
from leadflow_localstack.fleet import Fleet
from leadflow_shared.kafka import ensure_topics, physical_topic

console = Console(soft_wrap=True, width=max(140, Console().width))

DATABASE = "leadflow_bench_replay"
CONSUMERS = ("scoring", "assignment", "pool", "opportunity")
STALL_S = 120.0

Recorded = dict[str, list[tuple[str, bytes, list[tuple[str, bytes]]]]]  # topic: (key, value, headers)


def bench(
    service: Annotated[str, typer.Argument(help=f"the consumer service replayed: {', '.join(CONSUMERS)}")],
    leads: Annotated[int, typer.Option(help="leads posted in the recording")] = 20_000,
    instances: Annotated[str, typer.Option(help="process counts replayed, in turn (comma separated)")] = "1,2",
    rounds: Annotated[int, typer.Option(min=1, help="times each count is replayed (alternating)")] = 1,
    partitions: Annotated[int, typer.Option(help="partitions of the bench topics")] = 6,
) -> None:
    """A consumer service's events/s with 1, 2… processes in one consumer group, on recorded real events."""
    if service not in CONSUMERS:
        raise typer.BadParameter(f"one of {', '.join(CONSUMERS)}", param_hint="SERVICE")
    try:
        counts = [int(n) for n in instances.split(",")]
    except ValueError:
        raise typer.BadParameter("process counts such as 1,2", param_hint="--instances") from None
    if not counts or min(counts) < 1:
        raise typer.BadParameter("process counts of at least 1, such as 1,2", param_hint="--instances")
    env = stack_env(["postgres", "kafka", "temporal"] if service == "pool" else ["postgres", "kafka"])
    common.run(_bench(env, service, leads, counts, rounds, partitions), console)


async def _bench(env: dict[str, str], service: str, n_leads: int, counts: list[int], rounds: int,
                 partitions: int) -> None:
    from leadflow_intake.cli import add_partner
    from leadflow_shared.service import discover_services

    admin_dsn, bootstrap = env["LEADFLOW_PG_DSN"], env["LEADFLOW_KAFKA_BOOTSTRAP"]
    run = uuid.uuid4().hex[:8]
    template, _ = bench_database(admin_dsn, DATABASE)
    await recreate_bench_database(admin_dsn, DATABASE)
    with console.status("migrating the bench database"):
        for each in discover_services().values():
            await asyncio.to_thread(each.migrate, template)
    await e2e._configure(template)
    _, key = await asyncio.to_thread(add_partner, "bench partner", 1_000_000.0, dsn=template)
    results: list[dict[str, Any]] = []
    try:
        recorded = await _record(env, run, key, n_leads, partitions)
        for r in range(rounds):
            for n in counts:
                console.print(f"replaying into {n} {service} process(es), round {r + 1} of {rounds}")
                results.append(await _replay(env, service, n, recorded, partitions, f"{run}-{len(results)}"))
    finally:
        await common.delete_topics(bootstrap, f"bench-replay-{run}", console)
        if service == "pool":
            await terminate_workflows(env, f"bench-replay-{run}")
    _report(service, n_leads, recorded, results)


async def _clone(admin_dsn: str, name: str) -> tuple[str, str]:
    """A fresh copy of the template database."""
    await _drop(admin_dsn, name)
    conn = await asyncpg.connect(common.plain_dsn(admin_dsn))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{DATABASE}"')
    finally:
        await conn.close()
    return bench_database(admin_dsn, name)


async def _drop(admin_dsn: str, name: str, tries: int = 20) -> None:
    """Drop a copy once its last session has gone (a stopped service's, or autovacuum's, a moment later)."""
    conn = await asyncpg.connect(common.plain_dsn(admin_dsn))
    try:
        for attempt in range(tries):
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except asyncpg.ObjectInUseError:
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await conn.close()


# ---- recording ---------------------------------------------------------------------------------------

async def _record(env: dict[str, str], run: str, key: str, n_leads: int, partitions: int) -> Recorded:
    """The path's events for `n_leads` leads, posted through intake and routed by assignment."""
    dsn, _ = await _clone(env["LEADFLOW_PG_DSN"], f"{DATABASE}_recording")
    prefix = f"bench-replay-{run}-recording."
    fleet_env = {**os.environ, **env, "LEADFLOW_PG_DSN": dsn, "LEADFLOW_KAFKA_TOPIC_PREFIX": prefix,
                 "LEADFLOW_KAFKA_GROUP_PREFIX": f"bench-replay-{run}-recording",
                 "LEADFLOW_KAFKA_TOPIC_PARTITIONS": str(partitions), "LEADFLOW_LOG_LEVEL": "WARNING",
                 "LEADFLOW_INTAKE_RATE_LIMIT_PER_S": "1000000", "LEADFLOW_REACTIVATION_ENABLED": "false"}
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"leadflow-bench-replay-{run}"
    fleet = Fleet(fleet_env, log_dir, instances={"pool": 0, "opportunity": 0}, pool_worker=False)
    with console.status("starting intake, scoring and assignment to record the path's events"):
        await asyncio.to_thread(fleet.start_all)
    try:
        watcher = e2e.Watcher(env["LEADFLOW_KAFKA_BOOTSTRAP"], prefix)
        await watcher.start()
        keys = await e2e._post([m.url for m in fleet.of("intake")], key, e2e._leads(n_leads, 0), 500, 0,
                               watcher.arrivals)
        await watcher.until_routed(keys, 900)
        await watcher.stop()
    finally:
        await asyncio.to_thread(fleet.stop_all)
        await _drop(env["LEADFLOW_PG_DSN"], f"{DATABASE}_recording")
    return await _read_all(env["LEADFLOW_KAFKA_BOOTSTRAP"], prefix)


async def _read_all(bootstrap: str, prefix: str) -> Recorded:
    """Every event on the prefix's topics (dead letters aside), by logical topic, in each partition's order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                client_id="leadflow-bench-replay")
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith(prefix) and not t.endswith(".dlq")]
        counts = await common.topic_partitions(bootstrap, topics)
        partitions = [TopicPartition(t, p) for t in topics for p in range(counts[t])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        recorded: Recorded = {t.removeprefix(prefix): [] for t in topics}
        left = {tp for tp in partitions if ends[tp] > 0}
        while left:
            for tp, records in (await consumer.getmany(*left, timeout_ms=500, max_records=5000)).items():
                recorded[tp.topic.removeprefix(prefix)].extend(
                    ((r.key or b"").decode(), r.value or b"", list(r.headers)) for r in records)
                if records and records[-1].offset + 1 >= ends[tp]:
                    left.discard(tp)
        return {t: events for t, events in recorded.items() if events}
    finally:
        await consumer.stop()


# ---- a replay ----------------------------------------------------------------------------------------

async def _replay(env: dict[str, str], service: str, n: int, recorded: Recorded, partitions: int, tag: str
                  ) -> dict[str, Any]:
    bootstrap = env["LEADFLOW_KAFKA_BOOTSTRAP"]
    prefix, groups = f"bench-replay-{tag}.", f"bench-replay-{tag}"
    await ensure_topics(bootstrap, prefix=prefix, partitions=partitions)
    produced = await common.produce(bootstrap, console, [(physical_topic(t, prefix), events)
                                                         for t, events in recorded.items()])
    dsn, plain = await _clone(env["LEADFLOW_PG_DSN"], f"{DATABASE}_{service}")
    extra = {"LEADFLOW_POOL_TASK_QUEUE": f"bench-replay-{tag.split('-')[0]}"} if service == "pool" else {}
    spawned = time.perf_counter()
    procs, _, logs = await common.start_instances(f"leadflow_{service}", f"replay-{service}", n, {**env, **extra},
                                                  dsn, topic_prefix=prefix, group_prefix=groups,
                                                  partitions=partitions)
    ready_s = time.perf_counter() - spawned
    try:
        conn = await asyncpg.connect(plain)
        try:
            all_ready = await conn.fetchval("SELECT clock_timestamp()")
            infra = e2e._infrastructure_pids()
            cpu_before = sum(cpu_seconds(p.pid) for p in procs)
            infra_before = {name: cpu_seconds(pid) for name, pid in infra.items()}
            began = time.perf_counter()
            subscribed = await _subscribed(bootstrap, f"{groups}-{service}.")
            expected = sum(len(recorded.get(t, ())) for t in subscribed)
            await _until_applied(conn, service, expected, procs, logs)
            wall = time.perf_counter() - began
            cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
            infra_cpu = {name: cpu_seconds(pid) - infra_before[name] for name, pid in infra.items()}
            # The headline counts what was applied once every process was ready: the first ready starts on the
            # backlog alone (the rebalance each later one brings is counted: it is the price of scaling out).
            row = await conn.fetchrow(
                f"SELECT count(*) AS n, extract(epoch FROM max(processed_at) - min(processed_at)) AS busy, "
                f"  count(*) FILTER (WHERE processed_at >= $1) AS together_n, "
                f"  extract(epoch FROM max(processed_at) - greatest($1, min(processed_at))) AS together "
                f"FROM {service}.processed_events", all_ready)
            starts = await conn.fetchval(
                "SELECT extract(epoch FROM max(processed_at) - min(processed_at)) FROM pool.processed_events "
                "WHERE topic = 'leads.assigned.v1'") if service == "pool" else None
        finally:
            await conn.close()
    finally:
        await common.stop_instances(procs)
        await _drop(env["LEADFLOW_PG_DSN"], f"{DATABASE}_{service}")
    return {"instances": n, "events": int(row["n"]), "busy": float(row["busy"] or 0), "ready": ready_s,
            "together_n": int(row["together_n"]), "together": float(row["together"] or 0),
            "starts_s": float(starts or 0), "infra_cpu": infra_cpu,
            "busy_share": (cpu + sum(infra_cpu.values())) / ((os.cpu_count() or 1) * wall),
            "cpu": cpu, "produced": produced, "topics": sorted(t for t in subscribed if t in recorded)}


async def _subscribed(bootstrap: str, group_prefix: str, timeout_s: float = 60.0) -> list[str]:
    """The topics the service's groups read (one group per subscription: `<prefix><topic>`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-bench-replay")
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(group_prefix)]
            if groups or time.monotonic() > deadline:
                return [g.removeprefix(group_prefix) for g in groups]
            await asyncio.sleep(0.5)
    finally:
        await admin.close()


async def _until_applied(conn: Any, service: str, expected: int, procs: list[asyncio.subprocess.Process],
                         logs: list[Path]) -> None:
    last, changed = -1, time.monotonic()
    with common.progress(console) as bar:
        task = bar.add_task(f"{service} applies the recorded events", total=expected)
        while True:
            for proc, log in zip(procs, logs):
                if proc.returncode is not None:
                    raise RuntimeError(f"{service} exited with {proc.returncode} (see {log})")
            count = int(await conn.fetchval(f"SELECT count(*) FROM {service}.processed_events"))
            bar.update(task, completed=count)
            if count >= expected:
                return
            if count != last:
                last, changed = count, time.monotonic()
            elif time.monotonic() - changed > STALL_S:
                raise RuntimeError(f"{service}: no progress for {STALL_S:.0f} s at {count:,} of {expected:,} events "
                                   f"(see {logs[0]})")
            await asyncio.sleep(0.25)


def _report(service: str, n_leads: int, recorded: Recorded, results: list[dict[str, Any]]) -> None:
    figures = Figures()
    events = sum(len(e) for e in recorded.values())
    figures.add("recorded: events on the path's topics",
                f"{events:,} ({', '.join(f'{t} {len(e):,}' for t, e in sorted(recorded.items()))})")
    for r in results:
        figures.add(f"{r['instances']} process(es), every one ready → last event applied (events/s)",
                    f"{r['together_n']:,} in {r['together']:.1f} s: {_rate(r):,.0f}/s")
        figures.add("… first → last event applied; the processes' start-up",
                    f"{r['events']:,} in {r['busy']:.1f} s; {r['ready']:.1f} s")
        infra = ", ".join(f"{name} {seconds:,.1f}" for name, seconds in sorted(r["infra_cpu"].items()))
        figures.add(f"… CPU s from every one ready to the end: {service}, then the stack; the cores' busy share",
                    f"{service} {r['cpu']:,.1f}, {infra}; {r['busy_share']:.0%}")
        if r["starts_s"]:
            assigned = len(recorded.get("leads.assigned.v1", ()))
            figures.add("… ownership workflows started (leads.assigned.v1 applied), first → last (starts/s)",
                        f"{assigned:,} in {r['starts_s']:.1f} s: {assigned / r['starts_s']:,.0f}/s")
    medians = {n: statistics.median(_rate(r) for r in results if r["instances"] == n)
               for n in sorted({r["instances"] for r in results})}
    first = medians[min(medians)]
    figures.add("median events/s by processes (× the fewest)",
                ", ".join(f"{n}: {m:,.0f} ({m / first:.2f}×)" for n, m in medians.items()) if first else "–")
    topics = ", ".join(results[0]["topics"]) if results else ""
    figures.print(console, f"replay benchmark: {service} ({os.cpu_count()} cores, {n_leads:,} leads recorded)",
                  f"The events the path wrote for {n_leads:,} leads, produced to fresh topics before each replay; "
                  f"{service} reads {topics}. Replays run one after another on the same machine: compare them with "
                  "each other.")


def _rate(result: dict[str, Any]) -> float:
    return result["together_n"] / result["together"] if result["together"] else 0.0
