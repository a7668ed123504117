"""`leadflow bench e2e`: leads through the whole platform, partner API to assignment, per lead: accepted → scored
→ assigned (or pooled, or queued for a manager), with pool and opportunity consuming beside them; beside the raw
ceilings of the same run (a Kafka produce-and-consume chain of as many hops, messages of the same number and
size; a Postgres insert of the same rows; the Temporal dev server's own workflow-start rate).

The run: a fresh database (`leadflow_bench_e2e`) with an organisation of 500 reps in 10 teams, 50 rules and a
pool per team; every service as it runs (`python -m leadflow_<name>`, `--instances` of each, pool's Temporal
worker in a process of its own) on its own topics, consumer groups and task queue. First a latency run at a
steady offered rate (`--rate` leads/s for `--seconds`), then a throughput run (`--leads` flat out). The bench
reads leads.scored / assigned / pooled / queued as a downstream system would and times each lead from its
batch's 202 to the event's arrival.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import resource
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from leadflow_benchmarks import common
from leadflow_benchmarks.assignment import CHANNELS, INDUSTRIES, PLACES, organisation, rule_set
from leadflow_benchmarks.pool import await_earlier_terminations, terminate_workflows
from leadflow_benchmarks.common import Figures, bench_database, cpu_seconds, pct, peak_rss, recreate_bench_database
from leadflow_localstack import procs
from leadflow_localstack.fleet import Fleet
from leadflow_shared.contracts import LEADS_ASSIGNED, LEADS_POOLED, LEADS_QUEUED, LEADS_SCORED
from leadflow_shared.kafka import physical_topic

console = Console(soft_wrap=True, width=max(140, Console().width))

DATABASE = "leadflow_bench_e2e"
ROUTED = (LEADS_ASSIGNED.name, LEADS_POOLED.name, LEADS_QUEUED.name)
BANT = {"budget": "预算50万", "authority": "IT 总监, 决策人", "need": "替换现有CRM", "timeline": "3个月内"}
TRADES = ["科技", "网络技术", "软件", "电子商务", "智能制造", "医疗器械", "教育科技", "物流"]


def bench(
    leads: Annotated[int, typer.Option(help="leads of the throughput run, posted flat out")] = 100_000,
    rate: Annotated[int, typer.Option(help="leads/s offered in the latency run")] = 500,
    seconds: Annotated[int, typer.Option(help="length of the latency run")] = 20,
    batch: Annotated[int, typer.Option(help="leads per POST /v1/leads/batch in the throughput run (the latency "
                                            "run posts ten batches a second)")] = 500,
    instances: Annotated[int, typer.Option(help="processes of every service (2: scale-out)")] = 1,
    partitions: Annotated[int, typer.Option(help="partitions of the bench topics")] = 6,
    drain_timeout: Annotated[float, typer.Option(help="seconds to wait for the last lead to be routed")] = 900,
    catch_up: Annotated[float, typer.Option(
        help="seconds the fleet keeps running after the last lead is routed, to measure how fast pool and "
             "opportunity catch up")] = 60,
    followers_nice: Annotated[int, typer.Option(
        help="niceness of what follows the measured path (pool, its worker, opportunity, the Temporal server) "
             "while the runs last, as their own nodes would spare the path's CPU; 0: all equal")] = 10,
) -> None:
    """Accepted → scored → assigned per lead through every service, beside Kafka's, Postgres' and Temporal's
    raw ceilings; each process's CPU and peak memory."""
    env = common.stack_env()
    common.run(_bench(env, leads, rate, seconds, batch, instances, partitions, drain_timeout, catch_up, followers_nice),
               console)


@dataclass
class Arrivals:
    """When each lead was accepted (its batch's 202) and when each downstream event about it arrived."""

    accepted: dict[bytes, float] = field(default_factory=dict)
    scored: dict[bytes, float] = field(default_factory=dict)
    routed: dict[bytes, float] = field(default_factory=dict)
    decisions: dict[bytes, str] = field(default_factory=dict)  # the routing event's id
    via: dict[bytes, str] = field(default_factory=dict)  # the routing event's topic
    routed_twice: int = 0  # another decision about a lead already routed (a redelivered event is not one)

    def latencies(self, of: dict[bytes, float], keys: list[bytes]) -> list[float]:
        return [of[k] - self.accepted[k] for k in keys if k in of]


async def _bench(env: dict[str, str], n_leads: int, rate: int, seconds: int, batch: int, instances: int,
                 partitions: int, drain_timeout: float, catch_up: float, followers_nice: int) -> None:
    from leadflow_intake.cli import add_partner
    from leadflow_shared.service import discover_services

    admin_dsn = env["LEADFLOW_PG_DSN"]
    dsn, plain = bench_database(admin_dsn, DATABASE)
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-e2e-{run}."
    await recreate_bench_database(admin_dsn, DATABASE)
    with console.status("migrating the bench database"):
        for service in discover_services().values():
            await asyncio.to_thread(service.migrate, dsn)
    await _configure(dsn)
    _, key = await asyncio.to_thread(add_partner, "bench partner", 1_000_000.0, dsn=dsn)
    figures = Figures()
    await await_earlier_terminations(env)
    temporal_ceiling = await _temporal_start_rate(env, f"bench-e2e-{run}-raw", 2_000)
    fleet_env = {**os.environ, **env, "LEADFLOW_PG_DSN": dsn, "LEADFLOW_KAFKA_TOPIC_PREFIX": prefix,
                 "LEADFLOW_KAFKA_GROUP_PREFIX": f"bench-e2e-{run}", "LEADFLOW_POOL_TASK_QUEUE": f"bench-e2e-{run}",
                 "LEADFLOW_KAFKA_TOPIC_PARTITIONS": str(partitions), "LEADFLOW_LOG_LEVEL": "WARNING",
                 "LEADFLOW_INTAKE_RATE_LIMIT_PER_S": "1000000", "LEADFLOW_COLLUSION_SCAN_S": "3600",
                 "LEADFLOW_REACTIVATION_ENABLED": "false"}
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"leadflow-bench-e2e-{run}"
    followers = {"pool": followers_nice, "pool-worker": followers_nice, "opportunity": followers_nice}
    fleet = Fleet(fleet_env, log_dir, instances={name: instances for name in discover_services()},
                  niceness=followers)
    temporal_pid = _infrastructure_pids().get("temporal")
    temporal_niceness = procs.renice(temporal_pid, followers_nice) if temporal_pid and followers_nice else {}
    temporal_group = procs.group_niceness(temporal_pid) if temporal_pid else None
    if temporal_pid and followers_nice:
        procs.set_group_niceness(temporal_pid, followers_nice)
    with console.status(f"starting {len(fleet.members)} service processes"):
        await asyncio.to_thread(fleet.start_all)
    backends = asyncio.create_task(_renice_backends(plain, [f"leadflow-{f}" for f in followers], followers_nice))
    try:
        watcher = Watcher(env["LEADFLOW_KAFKA_BOOTSTRAP"], prefix)
        await watcher.start()
        intakes = [m.url for m in fleet.of("intake")]
        cpu_before = {label: cpu_seconds(pid) for label, pid in fleet.pids().items()}
        infra_before = {name: cpu_seconds(pid) for name, pid in _infrastructure_pids().items()}
        client_before = _own_cpu_seconds()
        pool_counter = PoolCounter(plain)
        # the latency run: a steady rate far below the capacity
        latency_keys = await _post(intakes, key, _leads(rate * seconds, 0), max(1, rate // 10), rate,
                                   watcher.arrivals)
        await watcher.until_routed(latency_keys, 120)
        # the throughput run: flat out
        pool_at_start = await pool_counter.count()
        work_before = await _stage_work(fleet)
        began = time.perf_counter()
        keys = await _post(intakes, key, _leads(n_leads, rate * seconds), batch, 0, watcher.arrivals)
        posted_s = time.perf_counter() - began
        await watcher.until_routed(keys, drain_timeout)
        routed_s = max(watcher.arrivals.routed.get(k, 0.0) for k in keys) - began
        work = _subtract(await _stage_work(fleet), work_before)
        pool_done = await pool_counter.count() - pool_at_start
        for_pool = sum(1 for k in keys if watcher.arrivals.via.get(k) in (LEADS_ASSIGNED.name, LEADS_POOLED.name))
        pool_lag = await pool_counter.until(pool_at_start + for_pool, 0)  # what pool still has to take in
        cpu = {label: cpu_seconds(pid) - cpu_before.get(label, 0.0) for label, pid in fleet.pids().items()}
        infra_cpu = {name: cpu_seconds(pid) - infra_before.get(name, 0.0) for name, pid in _infrastructure_pids().items()}
        infra_cpu["bench client (posting, watching)"] = _own_cpu_seconds() - client_before
        opportunity_seen = await _opportunity_count(plain)
        # the followers, left alone: how fast they catch up once the path is quiet
        with console.status(f"letting pool and opportunity catch up for {catch_up:,.0f} s"):
            await asyncio.sleep(catch_up)
        pool_caught_up = pool_lag - await pool_counter.until(pool_at_start + for_pool, 0)
        opportunity_later = await _opportunity_count(plain)
        peaks = {label: peak_rss(pid) or 0 for label, pid in fleet.pids().items()}
        await watcher.stop()
    finally:
        backends.cancel()
        await asyncio.to_thread(fleet.stop_all)
        procs.restore_niceness(temporal_niceness)
        if temporal_pid and temporal_group is not None:
            procs.set_group_niceness(temporal_pid, temporal_group)
        await terminate_workflows(env, f"bench-e2e-{run}")  # the ownership workflows end with the run
    a = watcher.arrivals
    kafka_rate = await _kafka_chain(env["LEADFLOW_KAFKA_BOOTSTRAP"], f"bench-e2e-{run}-raw.", len(keys), 3,
                                    partitions)
    pg_rate = await _postgres_insert(plain, len(keys))
    throughput = len([k for k in keys if k in a.routed]) / routed_s
    lat_scored, lat_routed = a.latencies(a.scored, latency_keys), a.latencies(a.routed, latency_keys)
    figures.add(f"latency run, {rate}/s offered for {seconds} s: accepted → scored p50 / p95 / p99 ms",
                _triple(lat_scored))
    figures.add("… accepted → assigned (or pooled / queued) p50 / p95 / p99 ms", _triple(lat_routed), "",
                "p99 < 1 s", bool(lat_routed) and pct(lat_routed, .99) < 1000)
    figures.add(f"throughput run ({len(keys):,} leads): accepted leads/s (all posted in {posted_s:,.0f} s)",
                f"{len(keys) / posted_s:,.0f}")
    figures.add("… accepted → assigned, leads/s sustained (first post to last routed)", f"{throughput:,.0f}",
                f"Kafka {kafka_rate:,.0f} / Postgres {pg_rate:,.0f}", "≥ 1,000",
                throughput >= 1000 if len(keys) >= 100_000 else None)
    figures.add("… as a share of the Kafka chain / the Postgres insert",
                f"{throughput / kafka_rate:.1%} / {throughput / pg_rate:.1%}")
    lat_all = a.latencies(a.routed, keys)
    figures.add("… accepted → assigned p50 / p95 / p99 s (a queue builds when posting outruns the pipeline)",
                " / ".join(f"{pct(lat_all, q) / 1000:.1f}" for q in (.5, .95, .99)) if lat_all else "–")
    via = [a.via[k] for k in keys if k in a.via]
    figures.add("… routed: " + ", ".join(f"{via.count(t):,} {t.split('.')[1]}" for t in ROUTED if t in via),
                f"{len([k for k in keys if k in a.routed]):,} of {len(keys):,}", "", "every lead, once",
                all(k in a.routed for k in keys) and a.routed_twice == 0)
    figures.add("pool: ownership workflows started while routing (starts/s)",
                f"{pool_done:,} of {len(keys):,} in {routed_s:,.0f} s ({pool_done / routed_s:,.0f}/s); "
                f"{pool_lag:,} left", f"Temporal dev server, 64 starts in flight: {temporal_ceiling:,.0f}/s")
    figures.add(f"… in the {catch_up:,.0f} s after the last was routed (starts/s)",
                f"{pool_caught_up:,} ({pool_caught_up / catch_up:,.0f}/s); {pool_lag - pool_caught_up:,} left")
    total = len(keys) + len(latency_keys)
    figures.add(f"opportunity: leads it knows of, when the last was routed / {catch_up:,.0f} s later",
                f"{opportunity_seen:,} / {opportunity_later:,} of {total:,}")
    for stage, (batches, events, busy_s) in sorted(work.items()):
        if batches:  # a POST is a batch of --batch leads; a consumer's, a transaction (a lane's share of a poll)
            size = batch if "POST" in stage else events / batches
            figures.add(f"{stage}: batches, mean size, mean ms, busy share of the run",
                        f"{batches:,.0f}, {size:,.0f}, {busy_s / batches * 1000:,.0f} ms, {busy_s / routed_s:.0%}")
    for label in sorted(cpu):
        figures.add(f"{label}: CPU s / peak RSS", f"{cpu[label]:,.0f} s / {peaks[label] / 2**20:,.0f} MiB")
    for name, seconds_used in sorted(infra_cpu.items()):
        figures.add(f"{name}: CPU s", f"{seconds_used:,.0f} s")
    figures.print(console, f"end-to-end benchmark ({os.cpu_count()} cores, {instances} instance(s) of each service, "
                           f"{len(keys):,} leads, {partitions} partitions)",
                  f"raw ceilings: a chain of 3 Kafka hops (consume, then produce the same message to the next topic) "
                  f"of {len(keys):,} messages of a leads.received.v1 event's size; a Postgres insert of as many rows "
                  f"(batches of 1,000); starts of a workflow type no worker runs on the same Temporal server, 64 in "
                  f"flight (a floor of what the server takes: pool, starting more at once, has gone past it). "
                  + (f"Pool, its worker, opportunity and the Temporal server ran at niceness {followers_nice} (their "
                     f"scheduling groups too): off the accepted → assigned path, they yield the CPU to it and catch "
                     f"up behind, as on nodes of their own. " if followers_nice else "") + f"Service logs: {log_dir}")


# ---- the organisation ------------------------------------------------------------------------------

async def _configure(dsn: str) -> None:
    """The assignment bench's organisation (500 reps, 10 teams) and rules (50), and a pool per team."""
    from leadflow_assignment.cli import load_org, load_rules
    from leadflow_pool.db import metadata as pool_metadata
    from leadflow_pool.db import store_pools
    from leadflow_pool.domain.pools import parse_pools
    from leadflow_shared.db import Database

    org = organisation(500, random.Random(20261206))
    for rep in org["reps"]:  # room for every lead of the run: the bench times routing, not caps filling up
        rep.update(max_open_leads=1_000_000, max_new_per_day=1_000_000)
    await asyncio.to_thread(load_org, json.dumps(org, ensure_ascii=False), dsn=dsn)
    await asyncio.to_thread(load_rules, json.dumps(rule_set(50), ensure_ascii=False), dsn=dsn)
    pools = parse_pools({"default_pool": "pool-0", "pools": [
        {"id": f"pool-{t}", "filter": {"teams": [f"team-{t}"]}, "claimers": {"teams": [f"team-{t}"]},
         "rules": {"first_follow_up_days": 2, "conversion_days": 30}} for t in range(10)]})
    db = Database(dsn, pool_metadata, "/bench/e2e", pool_size=1)
    try:
        async with db.uow() as uow:
            await store_pools(uow.session, pools, "bench")
            await uow.commit()
    finally:
        await db.dispose()


def _leads(n: int, offset: int) -> list[dict[str, Any]]:
    """n qualified leads (BANT answered) of new people, three to a company, spread over the territories,
    industries and channels (and so over the rules)."""
    cities = [c for _, c in PLACES]
    leads = []
    for j in range(n):
        i = offset + j
        province, city = PLACES[i % len(PLACES)]
        leads.append({"name": f"{common.SURNAMES[i % len(common.SURNAMES)]}{i}", "mobile": common.mobile(i),
                      "company_name": common.company(i // 3, cities, TRADES), "province": province, "city": city,
                      "industry": INDUSTRIES[i % len(INDUSTRIES)], "source": str(CHANNELS[i % len(CHANNELS)]),
                      "bant": BANT})
    return leads


# ---- posting and watching ------------------------------------------------------------------------

async def _post(intakes: list[str], key: str, leads: list[dict[str, Any]], size: int, rate: int,
                arrivals: Arrivals) -> list[bytes]:
    """Post the leads in batches (at `rate` leads/s, or flat out from 4 clients when 0); returns the lead ids
    accepted, first acceptance time kept per lead (a merge's second post keeps the first)."""
    batches = [leads[i:i + size] for i in range(0, len(leads), size)]
    accepted: list[bytes] = []
    headers = {"Authorization": f"Bearer {key}"}
    clients = [httpx.AsyncClient(base_url=url, headers=headers, timeout=120) for url in intakes]
    interval = size / rate if rate else 0.0
    started = time.perf_counter()

    async def send(b: int, chunk: list[dict[str, Any]]) -> None:
        reply = await clients[b % len(clients)].post("/v1/leads/batch", json={"leads": chunk})
        if reply.status_code != 202:
            raise RuntimeError(f"batch refused: {reply.status_code} {reply.text[:300]}")
        now = time.perf_counter()
        for result in reply.json()["results"]:
            if result["status"] != "accepted":
                raise RuntimeError(f"lead refused: {result}")
            lead = result["lead_id"].encode()
            if lead not in arrivals.accepted:
                arrivals.accepted[lead] = now
                accepted.append(lead)

    try:
        with common.progress(console) as bar:
            task = bar.add_task(f"posting {len(leads):,} leads" + (f" at {rate}/s" if rate else " flat out"),
                                total=len(leads))
            if rate:
                pending = []
                for b, chunk in enumerate(batches):
                    await asyncio.sleep(max(0.0, started + b * interval - time.perf_counter()))
                    pending.append(asyncio.create_task(send(b, chunk)))
                    bar.advance(task, len(chunk))
                await asyncio.gather(*pending)
            else:
                queue = list(enumerate(batches))[::-1]

                async def worker() -> None:
                    while queue:
                        b, chunk = queue.pop()
                        await send(b, chunk)
                        bar.advance(task, len(chunk))

                await asyncio.gather(*(worker() for _ in range(4)))
    finally:
        for client in clients:
            await client.aclose()
    return accepted


class Watcher:
    """A downstream reader of the scored and routing topics (no group: it misses nothing and commits nothing)."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.arrivals = Arrivals()
        self.prefix = prefix
        self.topics = {physical_topic(t, prefix): t for t in (LEADS_SCORED.name, *ROUTED)}
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                         client_id="leadflow-bench-e2e")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        partitions = [TopicPartition(t, p) for t in self.topics
                      for p in sorted(self.consumer.partitions_for_topic(t) or await self._partitions(t))]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:  # positions resolved now, before any lead is posted
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._read())

    async def _partitions(self, topic: str) -> set[int]:
        await self.consumer._client.force_metadata_update()  # noqa: SLF001 — a fresh topic's metadata
        return self.consumer.partitions_for_topic(topic) or set()

    async def _read(self) -> None:
        a = self.arrivals
        while True:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=5000)
            now = time.perf_counter()
            for tp, records in batch.items():
                topic = self.topics[tp.topic]
                for record in records:
                    if topic == LEADS_SCORED.name:
                        a.scored.setdefault(record.key, now)
                    elif record.key in a.routed:
                        a.routed_twice += _event_id(record) != a.decisions[record.key]
                    else:
                        a.routed[record.key] = now
                        a.decisions[record.key] = _event_id(record)
                        a.via[record.key] = topic

    async def until_routed(self, keys: list[bytes], timeout_s: float) -> None:
        with common.progress(console) as bar:
            task = bar.add_task("waiting until every lead is routed", total=len(keys))
            deadline = time.perf_counter() + timeout_s
            while time.perf_counter() < deadline:
                done = sum(1 for k in keys if k in self.arrivals.routed)
                bar.update(task, completed=done)
                if done == len(keys):
                    return
                await asyncio.sleep(0.5)
        console.print(f"[yellow]{len(keys) - done:,} leads not routed after {timeout_s:.0f} s[/]")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()


def _event_id(record: Any) -> str:
    return str(json.loads(record.value).get("id"))


class PoolCounter:
    """How many ownerships pool has started (its leads held by a rep): read as a bench reads, not a service."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def count(self) -> int:
        conn = await asyncpg.connect(self.dsn)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM pool.timeline WHERE kind IN ('assigned', 'pooled')"))
        finally:
            await conn.close()

    async def until(self, target: int, timeout_s: float) -> int:
        deadline = time.perf_counter() + timeout_s
        while True:
            left = target - await self.count()
            if left <= 0 or time.perf_counter() >= deadline:
                return max(0, left)
            await asyncio.sleep(1)


async def _opportunity_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM opportunity.leads"))
    finally:
        await conn.close()


# ---- raw ceilings ----------------------------------------------------------------------------------

async def _kafka_chain(bootstrap: str, prefix: str, n: int, hops: int, partitions: int) -> float:
    """n messages of a lead event's size produced to hop 0, each hop a consumer that produces what it reads to
    the next topic, the last one counting: messages/s from the first send to the last arrival."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topics = [f"{prefix}hop{h}" for h in range(hops + 1)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-bench")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics])
    finally:
        await admin.close()
    await common.topic_partitions(bootstrap, topics)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a fresh topic's NOT_LEADER moments are retried
    value = json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "data": {"x": "线" * 400}}).encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    consumers = [AIOKafkaConsumer(t, bootstrap_servers=bootstrap, group_id=f"{prefix}g{h}",
                                  auto_offset_reset="earliest", enable_auto_commit=True) for h, t in enumerate(topics)]
    for consumer in consumers:
        await consumer.start()
    while not all(consumer.assignment() for consumer in consumers):  # joined, partitions assigned
        await asyncio.gather(*(consumer.getmany(timeout_ms=100) for consumer in consumers))
    arrived = 0
    try:
        async def relay(h: int) -> None:
            nonlocal arrived
            while True:
                batch = await consumers[h].getmany(timeout_ms=200, max_records=5000)
                for records in batch.values():
                    if h == hops:
                        arrived += len(records)
                        continue
                    futures = [await producer.send(topics[h + 1], r.value, key=r.key) for r in records]
                    await asyncio.gather(*futures)

        relays = [asyncio.create_task(relay(h)) for h in range(hops + 1)]
        started = time.perf_counter()
        for start in range(0, n, 5000):
            futures = [await producer.send(topics[0], value, key=str(i).encode()) for i in range(start, min(n, start + 5000))]
            await asyncio.gather(*futures)
        while arrived < n and time.perf_counter() - started < 600:
            await asyncio.sleep(0.05)
        took = time.perf_counter() - started
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)
        return arrived / took
    finally:
        for consumer in consumers:
            await consumer.stop()
        await producer.stop()
        await common.delete_topics(bootstrap, prefix, console)


async def _postgres_insert(dsn: str, n: int) -> float:
    """n rows of a lead's size inserted in batches of 1,000 (no application code): rows/s."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TEMP TABLE raw_leads (id uuid PRIMARY KEY, mobile text, company text, "
                           "payload jsonb, at timestamptz DEFAULT now())")
        payload = json.dumps({"name": "王一", "company_name": "上海华信科技有限公司", "bant": BANT}, ensure_ascii=False)
        rows = [(uuid.uuid4(), common.mobile(i), f"公司{i}", payload) for i in range(n)]
        started = time.perf_counter()
        for start in range(0, n, 1000):
            await conn.executemany("INSERT INTO raw_leads (id, mobile, company, payload) VALUES ($1, $2, $3, $4)",
                                   rows[start:start + 1000])
        return n / (time.perf_counter() - started)
    finally:
        await conn.close()


async def _temporal_start_rate(env: dict[str, str], queue: str, n: int) -> float:
    """Starts/s of a workflow type no worker runs (the server's own ceiling), then terminated."""
    from temporalio.client import Client

    client = await Client.connect(env["LEADFLOW_TEMPORAL_ADDRESS"])
    semaphore = asyncio.Semaphore(64)

    async def start(i: int) -> None:
        async with semaphore:
            handle = await client.start_workflow("BenchNoop", id=f"{queue}-{i}", task_queue=queue)
            started.append(handle)

    started: list[Any] = []
    began = time.perf_counter()
    with console.status(f"Temporal's raw start rate ({n:,} starts)"):
        await asyncio.gather(*(start(i) for i in range(n)))
    rate = n / (time.perf_counter() - began)
    with console.status("terminating them"):
        await asyncio.gather(*(h.terminate() for h in started), return_exceptions=True)
    return rate


async def _renice_backends(dsn: str, applications: list[str], niceness: int) -> None:
    """The Postgres backends serving the followers get their niceness too, as they connect (a backend is one
    process per connection, named by the service's application_name)."""
    if not niceness:
        return
    done: set[int] = set()
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            for row in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = ANY($1::text[]) "
                                        "AND datname = current_database()", applications):
                if row["pid"] not in done:
                    done.add(row["pid"])
                    procs.renice(row["pid"], niceness)
            await asyncio.sleep(1)
    finally:
        await conn.close()


async def _stage_work(fleet: Fleet) -> dict[str, tuple[float, float, float]]:
    """What each stage did so far, from its /metrics: per consumed topic, the batches applied, their events and
    the seconds spent applying them; for intake, its batch posts (requests, leads, seconds)."""
    work: dict[str, tuple[float, float, float]] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for member in fleet.members.values():
            if not member.port:
                continue
            samples: dict[tuple[str, str], float] = {}
            text = (await client.get(f"{member.url}/metrics")).text
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if family.name == "leadflow_consumer_batch_seconds" and sample.name.endswith(("_count", "_sum")):
                        samples[(sample.labels["topic"], sample.name.rsplit("_", 1)[1])] = sample.value
                    elif family.name == "leadflow_consumer_batch_size" and sample.name.endswith("_sum"):
                        samples[(sample.labels["topic"], "events")] = sample.value
                    elif (family.name.endswith("request_duration_seconds") and sample.name.endswith(("_count", "_sum"))
                          and sample.labels.get("path") == "/v1/leads/batch"):
                        samples[("POST /v1/leads/batch", sample.name.rsplit("_", 1)[1])] = sample.value
            for topic in {t for t, _ in samples}:
                count, seconds = samples.get((topic, "count"), 0.0), samples.get((topic, "sum"), 0.0)
                events = samples.get((topic, "events"), count)
                work[f"{member.label} ← {topic}"] = (count, events, seconds)
    return work


def _subtract(after: dict[str, tuple[float, float, float]], before: dict[str, tuple[float, float, float]]
              ) -> dict[str, tuple[float, float, float]]:
    zero = (0.0, 0.0, 0.0)
    return {k: tuple(a - b for a, b in zip(v, before.get(k, zero))) for k, v in after.items()}  # type: ignore[misc]


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _infrastructure_pids() -> dict[str, int]:
    from leadflow_localstack.procs import alive
    from leadflow_localstack.stack import StackState

    state = StackState.load()
    return {name: info["pid"] for name, info in state.components.items() if alive(info)}


def _triple(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{pct(values, .5):,.0f} / {pct(values, .95):,.0f} / {pct(values, .99):,.0f}"

