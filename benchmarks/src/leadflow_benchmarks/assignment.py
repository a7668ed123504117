"""`leadflow bench assignment`: how many leads one assignment process decides per second, caps enforced,
beside the raw Kafka consume rate of the same messages measured in the same run; and what one decision costs.

The run: a fresh database (`leadflow_bench_assignment`) holding an organisation of 500 reps in 10 teams (field
teams by territory, a community team by cohort, telesales teams by skill and tier; every rep with caps) and a
rule set of 50 rules using every strategy; fresh topics (`bench-assignment-<run>.*`) filled with 100,000
leads.scored.v1 events of MQL leads *before* the service starts; a plain consumer reads them all (the
ceiling); then `python -m leadflow_assignment` routes them, timed from its first decision to its last, and
until every event it wrote is sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid

from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer
from rich.console import Console

from leadflow_benchmarks import common
from leadflow_benchmarks.common import (
    bench_database,
    pct,
    peak_rss,
    recreate_bench_database,
    report_table,
    stack_env,
)
from leadflow_shared.contracts import LEADS_SCORED, Channel, LeadScored, LeadSnapshot
from leadflow_shared.events import CloudEvent
from leadflow_shared.kafka import ensure_topics, physical_topic

console = Console(soft_wrap=True, width=max(140, Console().width))

DATABASE = "leadflow_bench_assignment"
PLACES = [("上海", "上海"), ("北京", "北京"), ("广东", "深圳"), ("广东", "广州"), ("浙江", "杭州"), ("江苏", "南京"),
          ("江苏", "苏州"), ("四川", "成都"), ("湖北", "武汉"), ("山东", "济南"), ("福建", "厦门"), ("陕西", "西安"),
          ("湖南", "长沙"), ("河南", "郑州"), ("天津", "天津"), ("重庆", "重庆")]
INDUSTRIES = ["软件和信息技术服务业", "制造业", "金融业", "批发和零售业", "教育", "卫生和社会工作", "建筑业", "房地产业"]
PRODUCTS = ["销售云 CRM", "营销自动化", "客服工单", "SCRM 企业微信版", "数据中台"]
CHANNELS = [Channel.paid_ads, Channel.website, Channel.wechat_official_account, Channel.mini_program,
            Channel.channel_partner, Channel.offline_event, Channel.hotline_400, Channel.xiaohongshu]
GRADES, GRADE_WEIGHTS = ["A", "B", "C", "D"], [15, 35, 35, 15]
COHORTS = [f"2026-12-trial-{i:02d}" for i in range(20)]
TEAMS = 10
FIELD_TEAMS = (0, 1, 2)
COMMUNITY_TEAM = 3


def bench(
    reps: Annotated[int, typer.Option(help="reps in the organisation (10 teams)")] = 500,
    rules: Annotated[int, typer.Option(help="rules in the rule set (every strategy among them)")] = 50,
    leads: Annotated[int, typer.Option(help="leads.scored.v1 events of MQL leads, one per lead")] = 100_000,
    partitions: Annotated[int, typer.Option(help="partitions of the bench topics")] = 6,
    decide_runs: Annotated[int, typer.Option(help="decisions timed one by one in the bench process")] = 20_000,
    keep_topics: Annotated[bool, typer.Option(help="leave the bench topics on the cluster")] = False,
    instances: Annotated[int, typer.Option(min=1, help="assignment processes in the consumer group (replicas)")] = 1,
) -> None:
    """Decisions/s of assignment (caps enforced) beside the raw Kafka consume rate; decision latency."""
    env = stack_env(["postgres", "kafka"])
    common.run(_bench(env, reps, rules, leads, partitions, decide_runs, keep_topics, instances), console)


# ---- the organisation, rules and leads -------------------------------------------------------------

def organisation(n_reps: int, rng: random.Random) -> dict[str, Any]:
    teams = []
    for t in range(TEAMS):
        mode = "field" if t in FIELD_TEAMS else "community" if t == COMMUNITY_TEAM else "telesales"
        teams.append({"id": f"team-{t}", "default_pool": f"pool-{t}", "sales_mode": mode, "managers": [f"mgr-{t}"]})
    territories = [{"id": f"city-{i}", "province": p, "city": c} for i, (p, c) in enumerate(PLACES)]
    territories += [{"id": f"prov-{p}", "province": p} for p in sorted({p for p, _ in PLACES})]
    reps = []
    for i in range(n_reps):
        t = i % TEAMS
        rep: dict[str, Any] = {"id": f"rep-{i:04d}", "team": f"team-{t}", "tier": 1 + i % 3,
                               "max_open_leads": rng.choice([150, 300, 400, 600]),
                               "max_new_per_day": rng.choice([200, 300, 600])}
        if i % 25 == 7:
            rep["status"] = "on_leave"
        if t in FIELD_TEAMS:
            rep["territories"] = [f"city-{i % len(PLACES)}"] if i % 4 else [f"prov-{PLACES[i % len(PLACES)][0]}"]
        if t == COMMUNITY_TEAM:
            rep["cohorts"] = [COHORTS[(i // TEAMS) % len(COHORTS)]]
        if t >= 6 and i % 3 == 0:
            rep["industries"] = rng.sample(INDUSTRIES, 3)
        if t >= 8 and i % 2 == 0:
            rep["product_lines"] = rng.sample(PRODUCTS, 2)
        reps.append(rep)
    return {"teams": teams, "territories": territories, "reps": reps}


def rule_set(n_rules: int) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {"id": "referral", "when": {"referral": True}, "strategy": "referral_to_original_rep"},
        {"id": "account-owner", "strategy": "account_owner"},
        {"id": "cohort", "when": {"custom": {"cohort": COHORTS}}, "strategy": "cohort", "team": f"team-{COMMUNITY_TEAM}"},
    ]
    k = 0
    kinds = [("territory", None), ("weighted", "contraction"), ("weighted", "growth"), ("least_loaded", None),
             ("round_robin", None), ("manual", None), ("pool", None)]
    while len(rules) < n_rules - 1:
        strategy, mode = kinds[k % len(kinds)]
        team = FIELD_TEAMS[k % len(FIELD_TEAMS)] if strategy == "territory" else 4 + k % 6
        province, city = PLACES[k % len(PLACES)]
        when: dict[str, Any] = {"grades": [GRADES[k % 4]] if k % 5 else ["A", "B"],
                                "channels": [str(CHANNELS[k % len(CHANNELS)])]}
        if strategy == "territory":
            when = {"provinces": [province], "grades": ["A", "B", "C"]}
        elif strategy in ("manual", "pool"):
            when = {**when, "score_min": 95}
        elif k % 3 == 0:
            when["industries"] = [INDUSTRIES[k % len(INDUSTRIES)]]
        rule: dict[str, Any] = {"id": f"r{k:02d}-{strategy}", "when": when, "strategy": strategy, "team": f"team-{team}"}
        if mode:
            rule["mode"] = mode
        rules.append(rule)
        k += 1
        del city
    rules.append({"id": "everyone-else", "strategy": "round_robin", "team": "team-9"})
    return {"rules": rules[:n_rules]}


def scored_events(n: int, n_reps: int, rng: random.Random) -> list[tuple[str, bytes]]:
    companies = [uuid.uuid4() for _ in range(n // 20)]
    events = []
    for _ in range(n):
        province, city = rng.choice(PLACES)
        custom: dict[str, Any] = {}
        if rng.random() < 0.08:
            custom["cohort"] = rng.choice(COHORTS)
        lead = LeadSnapshot(source=rng.choice(CHANNELS), province=province, city=city, industry=rng.choice(INDUSTRIES),
                            product_interest=rng.choice(PRODUCTS), custom=custom,
                            referrer=f"rep-{rng.randrange(n_reps):04d}" if rng.random() < 0.05 else None)
        data = LeadScored(lead_id=uuid.uuid4(), score=round(rng.uniform(40, 99), 1),
                          grade=rng.choices(GRADES, GRADE_WEIGHTS)[0], stage="mql", probability=round(rng.random(), 3),
                          rules_version="bench", company_id=rng.choice(companies) if rng.random() < 0.1 else None,
                          lead=lead)
        event = CloudEvent[LeadScored](source="/leadflow/bench", type=LEADS_SCORED.event_type, subject=str(data.lead_id),
                                       data=data, dataschema=LEADS_SCORED.schema_urn)
        events.append((event.subject, event.model_dump_json().encode()))
    return events


# ---- the run -------------------------------------------------------------------------------------

async def _bench(env: dict[str, str], n_reps: int, n_rules: int, n_leads: int, partitions: int, decide_runs: int,
                 keep_topics: bool, instances: int) -> None:
    from leadflow_assignment.app import service
    from leadflow_assignment.cli import load_org, load_rules

    bootstrap = env["LEADFLOW_KAFKA_BOOTSTRAP"]
    admin_dsn = env["LEADFLOW_PG_DSN"]
    dsn, plain = bench_database(admin_dsn, DATABASE)
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-assignment-{run}."
    rng = random.Random(20261204)

    await recreate_bench_database(admin_dsn, DATABASE)
    await asyncio.to_thread(service.migrate, dsn)
    org, rules = organisation(n_reps, rng), rule_set(n_rules)
    await asyncio.to_thread(load_org, json.dumps(org, ensure_ascii=False), dsn=dsn)
    await asyncio.to_thread(load_rules, json.dumps(rules, ensure_ascii=False), dsn=dsn)
    with console.status(f"generating {n_leads:,} scored leads…"):
        events = scored_events(n_leads, n_reps, rng)

    await ensure_topics(bootstrap, prefix=prefix, partitions=partitions)
    topic = physical_topic(LEADS_SCORED.name, prefix)
    await common.topic_partitions(bootstrap, [topic])
    try:
        produced = await common.produce(bootstrap, console, [(topic, [(key, value, []) for key, value in events])])
        ceiling, ceiling_count = await common.raw_ceiling(bootstrap, [topic], len(events))
        spawned = time.perf_counter()
        procs, ports, logs = await common.start_instances(
            "leadflow_assignment", "assignment", instances, env, dsn, topic_prefix=prefix, group_prefix=f"bench-{run}",
            partitions=partitions)
        try:
            ready = time.perf_counter() - spawned
            done = await _follow(plain, len(events), procs, logs, all_ready=await _clock(plain))
            metrics = "\n".join(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text for port in ports)
            peaks = [peak_rss(proc.pid) for proc in procs]
            peak = max((p for p in peaks if p is not None), default=None)
        finally:
            await common.stop_instances(procs)
        checks = await _checks(plain, org)
    finally:
        if not keep_topics:
            await common.delete_topics(bootstrap, prefix, console)
    latency = await asyncio.to_thread(_decide_latency, org, rules, events[:decide_runs])
    _report(n_reps=n_reps, n_rules=len(rules["rules"]), n_leads=len(events), partitions=partitions, produced=produced,
            ceiling=ceiling, ceiling_count=ceiling_count, ready=ready, done=done, checks=checks, metrics=metrics,
            latency=latency, peak=peak, log_file=logs[0], instances=instances)


async def _clock(dsn: str) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT clock_timestamp()")
    finally:
        await conn.close()


async def _follow(dsn: str, total: int, procs: list[asyncio.subprocess.Process], logs: list[Path], *,
                  all_ready: Any) -> dict[str, float]:
    """Until every lead is decided and every event the service wrote is sent; the first and last decision's
    times (Postgres clock), and when the outbox was empty."""
    conn = await asyncpg.connect(dsn)
    try:
        with common.progress(console) as progress:
            task = progress.add_task("deciding", total=total)
            while True:
                for proc, log_file in zip(procs, logs):
                    if proc.returncode is not None:
                        raise RuntimeError(f"assignment exited with {proc.returncode} (see {log_file})")
                decided = await conn.fetchval("SELECT count(*) FROM assignment.decisions")
                progress.update(task, completed=decided)
                if decided >= total:
                    break
                await asyncio.sleep(0.5)
            while await conn.fetchval("SELECT count(*) FROM assignment.outbox WHERE sent_at IS NULL"):
                await asyncio.sleep(0.2)
        row = await conn.fetchrow(
            "SELECT extract(epoch FROM max(decided_at) - min(decided_at)) AS busy, "
            "extract(epoch FROM (SELECT max(sent_at) FROM assignment.outbox) - min(decided_at)) AS drained "
            "FROM assignment.decisions")
        # Every process consuming: a replica that is ready later starts on a backlog already being worked.
        together = await conn.fetchrow(
            "SELECT count(*) AS n, extract(epoch FROM max(decided_at) - greatest($1, min(decided_at))) AS busy "
            "FROM assignment.decisions WHERE decided_at >= $1", all_ready)
        return {"busy": float(row["busy"]), "drained": float(row["drained"]),
                "together": float(together["busy"] or 0), "together_n": together["n"]}
    finally:
        await conn.close()


async def _checks(dsn: str, org: dict[str, Any]) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        outcomes = {r["outcome"]: r["n"] for r in await conn.fetch(
            "SELECT outcome, count(*) AS n FROM assignment.decisions GROUP BY outcome")}
        leads = await conn.fetchval("SELECT count(DISTINCT lead_id) FROM assignment.decisions")
        loads = {r["rep_id"]: r for r in await conn.fetch("SELECT * FROM assignment.rep_loads")}
        given = {r["owner_id"]: r["n"] for r in await conn.fetch(
            "SELECT owner_id, count(*) AS n FROM assignment.decisions WHERE outcome = 'assigned' GROUP BY owner_id")}
        over = [rep["id"] for rep in org["reps"]
                if loads.get(rep["id"]) and (loads[rep["id"]]["open_leads"] > rep["max_open_leads"]
                                             or loads[rep["id"]]["new_today"] > rep["max_new_per_day"])]
        mismatched = [r for r, n in given.items() if loads[r]["open_leads"] != n]
        full = sum(1 for rep in org["reps"] if loads.get(rep["id"]) and
                   (loads[rep["id"]]["open_leads"] >= rep["max_open_leads"]
                    or loads[rep["id"]]["new_today"] >= rep["max_new_per_day"]))
        overflow = await conn.fetchval("SELECT count(*) FROM assignment.decisions WHERE reason LIKE 'every eligible rep is full%'")
        sent = await conn.fetchval("SELECT count(*) FROM assignment.outbox WHERE sent_at IS NOT NULL")
        by_strategy = {r["strategy"] or "none": r["n"] for r in await conn.fetch(
            "SELECT strategy, count(*) AS n FROM assignment.decisions GROUP BY strategy ORDER BY 2 DESC")}
        batches = await conn.fetchrow(
            "SELECT count(DISTINCT processed_at) AS n FROM assignment.processed_events")
        return {"outcomes": outcomes, "leads": leads, "over_cap": over, "mismatched": mismatched, "full_reps": full,
                "overflow": overflow, "sent": sent, "by_strategy": by_strategy, "transactions": batches["n"]}
    finally:
        await conn.close()


def _decide_latency(org: dict[str, Any], rules: dict[str, Any], events: list[tuple[str, bytes]]) -> list[float]:
    """Router.decide + the row-to-facts step, one lead at a time, as the service calls them."""
    from leadflow_assignment.assigner import _scored_row, lead_facts
    from leadflow_assignment.domain.org import parse_organisation
    from leadflow_assignment.domain.routing import Loads, Router
    from leadflow_assignment.domain.rules import parse_rules

    router = Router(parse_organisation(org), parse_rules(rules).model_copy(update={"version": "1"}), default_pool="public")
    loads = Loads()
    timed = []
    for _, value in events:
        scored = CloudEvent[LeadScored].model_validate_json(value).data
        started = time.perf_counter()
        router.decide(lead_facts(_scored_row(None, scored)), loads)
        timed.append(time.perf_counter() - started)
    return timed


def _histogram(metrics: str, name: str) -> tuple[list[tuple[float, float]], float, float]:
    """A Prometheus histogram of the service's /metrics: cumulative buckets (le, count), sum, count."""
    buckets, total, count = [], 0.0, 0.0
    for line in metrics.splitlines():
        if line.startswith(f"{name}_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
        elif line.startswith(f"{name}_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{name}_count"):
            count += float(line.rsplit(" ", 1)[1])
    return buckets, total, count


def _bucket_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """The upper bound of the bucket holding the q quantile (what the histogram can say), in ms."""
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    want = q * buckets[-1][1]
    return next(le for le, n in buckets if n >= want) * 1000


def _report(*, n_reps: int, n_rules: int, n_leads: int, partitions: int, produced: float, ceiling: float,
            ceiling_count: int, ready: float, done: dict[str, float], checks: dict[str, Any], metrics: str,
            latency: list[float], peak: int | None, log_file: Path, instances: int) -> None:
    processes = f"{instances} assignment processes" if instances > 1 else "one assignment process"
    table = report_table(f"assignment benchmark ({os.cpu_count()} cores, {processes}, {n_reps} reps, {n_rules} rules, "
                         f"{n_leads:,} MQL leads, {partitions} partitions)")
    busy, drained = done["busy"], done["drained"]
    for title, rate in ((f"decisions/s, first decision → last ({busy:.1f} s)", n_leads / busy),
                        (f"decisions/s, first decision → every event sent to Kafka ({drained:.1f} s)", n_leads / drained)):
        table.add_row(title, f"{rate:,.0f}", f"{ceiling:,.0f}", f"{rate / ceiling:.1%}")
    if done["together"] > 0:
        rate = done["together_n"] / done["together"]
        table.add_row(f"decisions/s, every process consuming ({done['together_n']:,} decisions in "
                      f"{done['together']:.1f} s)", f"{rate:,.0f}", f"{ceiling:,.0f}", f"{rate / ceiling:.1%}")
    decide_buckets, decide_sum, decide_count = _histogram(metrics, "leadflow_assignment_decision_seconds")
    batch_buckets, batch_sum, batch_count = _histogram(metrics, "leadflow_consumer_batch_seconds")
    table.add_row("one decision in the bench process (facts, rules, strategy, explanation): p50 / p99 ms",
                  f"{pct(latency, .5):.3f} / {pct(latency, .99):.3f}", "", "")
    table.add_row("one decision in the service: mean ms; p99 ≤ (histogram bucket) ms",
                  f"{1000 * decide_sum / max(1, decide_count):.3f}; {_bucket_quantile(decide_buckets, .99):.2f}", "", "")
    table.add_row("routing transactions (a batch's decisions committed together): count, mean events, mean ms; "
                  "p99 ≤ ms",
                  f"{batch_count:,.0f}, {n_leads / max(1, batch_count):,.0f}, {1000 * batch_sum / max(1, batch_count):,.0f}; "
                  f"{_bucket_quantile(batch_buckets, .99):,.0f}", "", "")
    again = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                if line.startswith("leadflow_assignment_routed_again_total"))
    table.add_row("routing transactions decided again on locked loads (a rep filled up by another process meanwhile)",
                  f"{again:,.0f}", "", "")
    table.add_section()
    outcomes = checks["outcomes"]
    table.add_row("leads decided (distinct) / assigned / pooled / queued",
                  f"{checks['leads']:,} / {outcomes.get('assigned', 0):,} / {outcomes.get('pooled', 0):,} / "
                  f"{outcomes.get('queued', 0):,}", f"{ceiling_count:,} read", "")
    table.add_row("by strategy", ", ".join(f"{k} {v:,}" for k, v in checks["by_strategy"].items()), "", "")
    table.add_row("reps at a cap / pooled because every eligible rep was full",
                  f"{checks['full_reps']} / {checks['overflow']:,}", "", "")
    table.add_row("reps over a cap / open leads ≠ leads given", f"{len(checks['over_cap'])} / {len(checks['mismatched'])}",
                  "", "")
    table.add_row("events sent (assigned + pooled + queued)", f"{checks['sent']:,}", "", "")
    table.add_row("producer events/s; service start-up until /health/ready", f"{produced:,.0f}; {ready:.1f} s", "", "")
    if peak is not None:
        table.add_row("assignment process peak RSS (VmHWM; the largest)", f"{peak / 2**20:,.0f} MiB", "", "")
    console.print(table)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(f"load average at the end (1 / 5 / 15 min): {load} — other work on the machine moves these figures.")
    console.print("raw ceiling: one plain aiokafka consumer (no group) reading the same messages from the start, "
                  f"json.loads on each value, nothing else. Service log: {log_file}")
    if checks["over_cap"] or checks["mismatched"] or checks["leads"] != n_leads:
        console.print(f"[red]check failed: over cap {checks['over_cap'][:5]}, mismatched {checks['mismatched'][:5]}, "
                      f"{checks['leads']:,} of {n_leads:,} decided[/]")



