"""`leadflow bench opportunity`: conversions (线索转商机) through HTTP with tokens verified, offered at a steady
rate and then flat out, beside the same writes as one plain Postgres transaction; and the funnel report over
1,000,000 leads and 100,000 opportunities, beside the bare sum of its cohort rows.

The run: a fresh database (`leadflow_bench_opportunity`); accepted leads owned by the bench's reps, a fifth of
them of a company converted before (the merge path); the funnel projection's rows and sums for a year of
leads, and a year of opportunities; the opportunity service as it runs (`python -m leadflow_opportunity`) on its
own topics.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer
from rich.console import Console

from leadflow_benchmarks import common
from leadflow_benchmarks.common import (
    Figures,
    bench_database,
    company,
    cpu_seconds,
    free_port,
    log_path,
    mobile,
    pct,
    peak_rss,
    recreate_bench_database,
    service_env,
    stack_env,
    wait_ready,
)

console = Console(soft_wrap=True, width=max(140, Console().width))

DATABASE = "leadflow_bench_opportunity"
CITIES = ("上海", "北京", "深圳", "杭州", "成都", "武汉")
TRADES = ("科技", "信息技术", "软件", "网络科技", "数据服务")
SOURCES = ("paid_ads", "channel_partner", "website", "app", "wechat_official_account", "mini_program", "xiaohongshu",
           "hotline_400", "sales_self_sourced", "referral", "business_cooperation", "offline_event", "other")
YEAR = date(2026, 1, 1)


def bench(
    rate: Annotated[int, typer.Option(help="conversions offered per second")] = 100,
    seconds: Annotated[float, typer.Option(help="how long they are offered")] = 20.0,
    reps: Annotated[int, typer.Option(help="reps converting")] = 50,
    concurrency: Annotated[int, typer.Option(help="conversions in flight at once when flat out")] = 32,
    leads: Annotated[int, typer.Option(help="leads in the funnel")] = 1_000_000,
    opportunities: Annotated[int, typer.Option(help="opportunities in the funnel")] = 100_000,
    queries: Annotated[int, typer.Option(help="times each report is asked")] = 30,
) -> None:
    """Conversions/s through HTTP and their latency; the funnel report over a year of a million leads."""
    env = stack_env(["postgres", "kafka"])
    common.run(_bench(env, rate, seconds, reps, concurrency, leads, opportunities, queries), console)


async def _bench(env: dict[str, str], rate: int, seconds: float, n_reps: int, concurrency: int, n_leads: int,
                 n_opportunities: int, n_queries: int) -> None:
    from leadflow_localstack.testing import staff_key_env, staff_token_for
    from leadflow_opportunity.app import service

    admin_dsn = env["LEADFLOW_PG_DSN"]
    dsn, plain = bench_database(admin_dsn, DATABASE)
    run = uuid.uuid4().hex[:8]
    await recreate_bench_database(admin_dsn, DATABASE)
    await asyncio.to_thread(service.migrate, dsn)
    paced_n, flat_n = int(rate * seconds), int(concurrency * 400)
    with console.status("seeding accepted leads, a year of funnel and opportunities…"):
        conversion_leads = await _seed_leads(plain, paced_n + flat_n + 10, n_reps)
        await _seed_funnel(plain, n_leads, n_opportunities)
    keys = {**env, **staff_key_env()}
    tokens = {rep: staff_token_for(keys, rep, "rep", teams=[team], ttl=timedelta(hours=2))
              for rep, team in {(o, t) for _, o, t in conversion_leads}}
    admin = staff_token_for(keys, "bench-admin", "admin", ttl=timedelta(hours=2))
    figures = Figures()
    port = free_port()
    log_file = log_path("opportunity")
    proc_env = service_env(env, dsn, topic_prefix=f"bench-opportunity-{run}.", group_prefix=f"bench-{run}", port=port)
    url = f"http://127.0.0.1:{port}"
    with open(log_file, "wb") as log:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "leadflow_opportunity", env=proc_env,
                                                    stdout=log, stderr=log)
        try:
            await wait_ready(url, "opportunity", proc, log_file)
            await _conversions(url, plain, conversion_leads, tokens, rate, seconds, concurrency, proc.pid, figures)
            await _reports(url, plain, admin, n_leads, n_opportunities, n_queries, figures)
            figures.add("opportunity process peak RSS (VmHWM)", f"{(peak_rss(proc.pid) or 0) / 2**20:,.0f} MiB")
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
    _report(figures, rate, n_leads, n_opportunities, log_file)


# ---- seeding ---------------------------------------------------------------------------------------------

async def _seed_leads(dsn: str, n: int, n_reps: int) -> list[tuple[uuid.UUID, str, str]]:
    """Accepted leads of the bench's reps; one in five of a company an earlier lead names (they merge)."""
    rng = random.Random(20261206)
    now = datetime.now(UTC)
    rows, out = [], []
    for i in range(n):
        lead_id, rep = uuid.uuid4(), f"bench-rep-{i % n_reps}"
        team = f"bench-team-{i % n_reps % 5}"
        name = company(1_000_000 + (rng.randrange(i) if i > 10 and rng.random() < 0.2 else i), CITIES, TRADES)
        snapshot = {"name": f"联系人{i}", "mobile": mobile(i), "company_name": name, "city": "上海市",
                    "source": SOURCES[i % len(SOURCES)]}
        rows.append((lead_id, rep, team, "open", json.dumps(snapshot, ensure_ascii=False), snapshot["source"], now,
                     now, now, rep))
        out.append((lead_id, rep, team))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO opportunity.leads (lead_id, owner_id, team_id, status, snapshot, source, received_at, mql_at, "
            "accepted_at, accepted_by) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10)", rows)
    finally:
        await conn.close()
    return out


async def _seed_funnel(dsn: str, n_leads: int, n_opportunities: int) -> None:
    """A year of leads as the projection keeps them (row per lead, sums per day and per month), over 13 sources,
    50 partners and 200 reps in 10 teams, 40% unowned; and a year of opportunities with customers."""
    share = n_opportunities / n_leads
    sql = f"""
    INSERT INTO opportunity.funnel_leads (lead_id, received_on, source, partner_id, owner_id, team_id, received_at,
        mql_at, sql_at, opportunity_at, won_at, realized_at, won_amount, realized_amount)
    SELECT md5('lead' || i)::uuid, day, source, partner, owner, team, at,
           CASE WHEN pick < 0.4 THEN at + interval '1 hour' END, CASE WHEN pick < 0.2 THEN at + interval '1 day' END,
           CASE WHEN pick < {share} THEN at + interval '3 days' END,
           CASE WHEN pick < {share * 0.3} THEN at + interval '20 days' END,
           CASE WHEN pick < {share * 0.25} THEN at + interval '30 days' END,
           CASE WHEN pick < {share * 0.3} THEN 50000 END, CASE WHEN pick < {share * 0.25} THEN 50000 END
    FROM (SELECT i, DATE '{YEAR}' + (i % 365) AS day, (DATE '{YEAR}' + (i % 365))::timestamptz AS at,
                 (ARRAY{list(SOURCES)})[1 + (hashint4(i) & 65535) % 13] AS source,
                 CASE WHEN (hashint4(i) & 65535) % 13 = 1 THEN 'partner-' || (i % 50) END AS partner,
                 CASE WHEN (hashint4(i + 7) & 65535) % 100 < 60 THEN 'rep-' || (hashint4(i + 3) & 65535) % 200 END AS owner,
                 CASE WHEN (hashint4(i + 7) & 65535) % 100 < 60 THEN 'team-' || (hashint4(i + 3) & 65535) % 10 END AS team,
                 ((hashint4(i + 13) & 65535) / 65536.0) AS pick
          FROM generate_series(1, {n_leads}) i) s;
    """
    sums = """
    INSERT INTO opportunity.{table} ({period}, source, partner_id, owner_id, team_id, leads, mql, sql, opportunities,
        won, realized, won_amount, realized_amount)
    SELECT {key}, source, coalesce(partner_id, ''), coalesce(owner_id, ''), coalesce(team_id, ''), count(*),
           count(mql_at), count(sql_at), count(opportunity_at), count(won_at), count(realized_at),
           coalesce(sum(won_amount), 0), coalesce(sum(realized_amount), 0)
    FROM opportunity.funnel_leads GROUP BY 1, 2, 3, 4, 5;
    """
    deals = f"""
    INSERT INTO opportunity.customers (customer_id, kind, name, name_key, created_at)
    SELECT md5('customer' || i)::uuid, 'company', '客户' || i, 'bench-' || i, DATE '{YEAR}' + (i % 365)
    FROM generate_series(1, {n_opportunities}) i;
    INSERT INTO opportunity.contacts (contact_id, customer_id, name)
    SELECT md5('contact' || i)::uuid, md5('customer' || i)::uuid, '联系人' || i FROM generate_series(1, {n_opportunities}) i;
    INSERT INTO opportunity.opportunities (opportunity_id, lead_id, customer_id, contact_id, name, amount, currency,
        stage, status, probability, owner_id, team_id, sdr_id, source, created_by, created_at, stage_entered_at,
        won_at, realized_at, realized_amount)
    SELECT md5('deal' || i)::uuid, md5('deal-lead' || i)::uuid, md5('customer' || i)::uuid, md5('contact' || i)::uuid,
           '商机' || i, 50000, 'CNY', CASE WHEN i % 10 < 3 THEN 'won' ELSE 'proposal' END,
           CASE WHEN i % 10 < 3 THEN 'won' ELSE 'open' END, 0.4, 'rep-' || i % 200, 'team-' || i % 200 % 10,
           'sdr-' || i % 20, 'website', 'bench', at, at, CASE WHEN i % 10 < 3 THEN at + interval '20 days' END,
           CASE WHEN i % 40 < 10 THEN at + interval '30 days' END, CASE WHEN i % 40 < 10 THEN 50000 END
    FROM (SELECT i, (DATE '{YEAR}' + (i % 365))::timestamptz AS at FROM generate_series(1, {n_opportunities}) i) s;
    """
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
        await conn.execute(sums.format(table="funnel_cohorts", period="day", key="received_on"))
        await conn.execute(sums.format(table="funnel_months", period="month", key="date_trunc('month', received_on)::date"))
        await conn.execute(deals)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# ---- conversions -----------------------------------------------------------------------------------------

def _request(i: int) -> dict[str, Any]:
    return {"opportunity": {"name": f"商机{i}", "amount": 10000 + i % 90 * 1000, "product_line": "crm",
                            "expected_close": "2027-03-31"}, "contact": {"title": "采购经理"}}


async def _conversions(url: str, dsn: str, leads: list[tuple[uuid.UUID, str, str]], tokens: dict[str, str],
                       rate: int, seconds: float, concurrency: int, pid: int, figures: Figures) -> None:
    """Conversions offered at `rate`/s on a fixed schedule (a slow answer does not slow the offer), then flat out
    from `concurrency` clients."""
    paced_n = int(rate * seconds)
    paced, flat, merged = [], [], []
    failures: list[str] = []

    async def convert(client: httpx.AsyncClient, k: int, into: list[float]) -> None:
        lead_id, rep, _ = leads[k]
        t0 = time.perf_counter()
        reply = await client.post(f"/v1/leads/{lead_id}/convert", json=_request(k),
                                  headers={"Authorization": tokens[rep]})
        into.append(time.perf_counter() - t0)
        if reply.status_code != 201:
            failures.append(f"{reply.status_code}: {reply.text[:200]}")
        elif reply.json()["merged"]:
            merged.append(1)

    limits = httpx.Limits(max_connections=concurrency + 64, max_keepalive_connections=concurrency + 64)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        for k in range(5):  # warm up the connections, the verifier and the statement caches
            await convert(client, len(leads) - 1 - k, [])
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        tasks = []
        with console.status(f"{rate} conversions a second for {seconds:.0f} s…"):
            for k in range(paced_n):
                await asyncio.sleep(max(0.0, started + k / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(convert(client, k, paced)))
            await asyncio.gather(*tasks)
        cpu = cpu_seconds(pid) - cpu_before
        offered = paced_n / (time.perf_counter() - started)
        queue = asyncio.Queue[int]()
        for k in range(paced_n, len(leads) - 5):
            queue.put_nowait(k)

        async def client_loop(until: float) -> None:
            while time.perf_counter() < until and not queue.empty():
                await convert(client, queue.get_nowait(), flat)

        with console.status(f"conversions flat out from {concurrency} clients for 10 s…"):
            began = time.perf_counter()
            await asyncio.gather(*(client_loop(began + 10) for _ in range(concurrency)))
            flat_rate = len(flat) / (time.perf_counter() - began)
    if failures:
        raise RuntimeError(f"{len(failures)} conversions failed, e.g. {failures[0]}")
    ceiling = await _postgres_ceiling(dsn, concurrency, 5.0)
    figures.add(f"conversions through HTTP at {offered:,.0f}/s offered ({paced_n:,}, tokens verified): "
                "p50 / p95 / p99 ms", f"{pct(paced, .5):.1f} / {pct(paced, .95):.1f} / {pct(paced, .99):.1f}",
                f"{ceiling['p50']:.1f} / {ceiling['p95']:.1f} / {ceiling['p99']:.1f}", "p99 < 50 ms",
                pct(paced, .99) < 50)
    figures.add(f"conversions/s flat out from {concurrency} clients: p99 ms",
                f"{flat_rate:,.0f}/s: {pct(flat, .99):.1f}", f"{ceiling['rate']:,.0f}/s: {ceiling['p99']:.1f}")
    figures.add("conversions merged into an existing customer", f"{len(merged):,} of {len(paced) + len(flat) + 5:,}")
    figures.add("opportunity process CPU per paced conversion", f"{cpu / max(1, paced_n) * 1000:.2f} ms")


async def _postgres_ceiling(dsn: str, connections: int, seconds: float) -> dict[str, float]:
    """The raw ceiling of a conversion: its writes (customer, contact, opportunity, conversion, stage change,
    the lead's status, three outbox rows) as one plain transaction of single statements, from as many
    connections at once (no HTTP, no token, no lookups, no rules)."""
    conn = await asyncpg.connect(dsn)
    try:  # the outbox's twin: the service's relay must not send these
        await conn.execute("CREATE TABLE IF NOT EXISTS opportunity.raw_outbox (LIKE opportunity.outbox INCLUDING ALL)")
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    timings: list[float] = []
    started = time.perf_counter()
    payload = json.dumps({"data": _request(0)})

    async def worker(i: int) -> None:
        async with pool.acquire() as conn:
            while time.perf_counter() - started < seconds:
                customer, contact, deal, lead = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
                t0 = time.perf_counter()
                async with conn.transaction():
                    await conn.execute("INSERT INTO opportunity.customers (customer_id, kind, name) "
                                       "VALUES ($1, 'company', 'raw')", customer)
                    await conn.execute("INSERT INTO opportunity.contacts (contact_id, customer_id) VALUES ($1, $2)",
                                       contact, customer)
                    await conn.execute(
                        "INSERT INTO opportunity.opportunities (opportunity_id, lead_id, customer_id, contact_id, name, "
                        "amount, currency, stage, status, probability, created_by) VALUES ($1, $2, $3, $4, 'raw', 1, "
                        "'CNY', 'initial_contact', 'open', 0.1, 'raw')", deal, lead, customer, contact)
                    await conn.execute("INSERT INTO opportunity.conversions VALUES ($1, $2, $3, $4, false, false, "
                                       "'raw', now())", lead, customer, contact, deal)
                    await conn.execute("INSERT INTO opportunity.stage_changes (opportunity_id, to_stage, by, at) "
                                       "VALUES ($1, 'initial_contact', 'raw', now())", deal)
                    await conn.execute("UPDATE opportunity.leads SET status = status WHERE lead_id = $1", lead)
                    await conn.executemany("INSERT INTO opportunity.raw_outbox (event_id, topic, key, payload, headers) "
                                           "VALUES ($1, 'raw', $2, $3, '{}')",
                                           [(uuid.uuid4(), str(lead), payload) for _ in range(3)])
                timings.append(time.perf_counter() - t0)

    try:
        await asyncio.gather(*(worker(i) for i in range(connections)))
    finally:
        await pool.close()
    return {"p50": pct(timings, .5), "p95": pct(timings, .95), "p99": pct(timings, .99),
            "rate": len(timings) / (time.perf_counter() - started)}


# ---- reports ---------------------------------------------------------------------------------------------

REPORTS = (
    ("funnel, the year", "/v1/reports/funnel", {"from": "2026-01-01", "to": "2026-12-31"}),
    ("funnel, the year by source", "/v1/reports/funnel", {"from": "2026-01-01", "to": "2026-12-31", "group": "source"}),
    ("funnel, the year by rep", "/v1/reports/funnel", {"from": "2026-01-01", "to": "2026-12-31", "group": "rep"}),
    ("funnel, 15 Feb – 20 Nov by month", "/v1/reports/funnel",
     {"from": "2026-02-15", "to": "2026-11-20", "group": "month"}),
    ("funnel, a quarter by day, one team", "/v1/reports/funnel",
     {"from": "2026-04-01", "to": "2026-06-30", "group": "day", "team": "team-3"}),
    ("leaderboard of a month (100,000 opportunities)", "/v1/reports/leaderboard", {"month": "2026-06"}),
)


async def _reports(url: str, dsn: str, admin: str, n_leads: int, n_opportunities: int, n_queries: int,
                   figures: Figures) -> None:
    ceiling = await _sum_ceiling(dsn, n_queries)
    async with httpx.AsyncClient(base_url=url, timeout=60, headers={"Authorization": admin}) as client:
        for label, path, params in REPORTS:
            timings = []
            for _ in range(n_queries):
                t0 = time.perf_counter()
                reply = await client.get(path, params=params)
                timings.append(time.perf_counter() - t0)
                if reply.status_code != 200:
                    raise RuntimeError(f"{path} answered {reply.status_code}: {reply.text[:300]}")
            funnel = path.endswith("funnel")
            if funnel and params.get("group") is None:
                leads = reply.json()["steps"][0]["count"]
                if leads != n_leads:
                    raise RuntimeError(f"the funnel counted {leads:,} leads, not {n_leads:,}")
            figures.add(f"{label}: p50 / p95 ms ({n_leads:,} leads)" if funnel else f"{label}: p50 / p95 ms",
                        f"{pct(timings, .5):.1f} / {pct(timings, .95):.1f}",
                        ceiling if label == "funnel, the year" else "", "p95 < 200 ms" if funnel else "",
                        pct(timings, .95) < 200 if funnel else None)


async def _sum_ceiling(dsn: str, n: int) -> str:
    """The bare sums: the year's month rows summed in Postgres (no HTTP, no token); and the naive count over
    every lead's row, which the sums exist to avoid."""
    conn = await asyncpg.connect(dsn)
    try:
        sums, scans = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            await conn.fetch("SELECT sum(leads), sum(mql), sum(sql), sum(opportunities), sum(won), sum(realized) "
                             "FROM opportunity.funnel_months WHERE month BETWEEN '2026-01-01' AND '2026-12-01'")
            sums.append(time.perf_counter() - t0)
        for _ in range(3):
            t0 = time.perf_counter()
            await conn.fetch("SELECT count(*), count(mql_at), count(sql_at), count(opportunity_at), count(won_at), "
                             "count(realized_at) FROM opportunity.funnel_leads "
                             "WHERE received_on BETWEEN '2026-01-01' AND '2026-12-31'")
            scans.append(time.perf_counter() - t0)
    finally:
        await conn.close()
    return f"{pct(sums, .5):.1f} / {pct(sums, .95):.1f} (per-lead scan: {pct(scans, .5):,.0f})"


def _report(figures: Figures, rate: int, n_leads: int, n_opportunities: int, log_file: Path) -> None:
    figures.print(console, f"opportunity benchmark ({os.cpu_count()} cores, {rate} conversions/s offered, "
                           f"{n_leads:,} leads and {n_opportunities:,} opportunities in the funnel)",
                  "raw ceilings: conversions beside their writes as one plain Postgres transaction from as many "
                  "connections; the funnel beside the bare sum of the year's month rows in Postgres (and the naive "
                  f"count over every lead's row). Service log: {log_file}")
