"""`leadflow bench scoring`: how many events one scoring process applies per second, beside the raw Kafka
consume rate of the same messages measured in the same run; and what predicting and rule-scoring one lead
cost (figures, not a pass/fail test).

The run: a fresh database (`leadflow_bench_scoring`) with a small company registry, a predictive model
trained on the shared history and activated, fresh topics (`bench-scoring-<run>.*`) filled with LeadReceived
and LeadActivity events *before* the service starts; then a plain consumer reads them all (the ceiling),
then `python -m leadflow_scoring` applies them, timed from its readiness until every event is processed
and every leads.scored.v1 it wrote is in Kafka.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from leadflow_benchmarks import common
from leadflow_benchmarks.common import (
    SURNAMES,
    bench_database,
    mobile as _mobile,
    pct,
    peak_rss,
    recreate_bench_database,
    report_table,
    stack_env,
)
from leadflow_shared.contracts import (
    LEADS_ACTIVITY,
    LEADS_RECEIVED,
    LEADS_SCORED,
    Channel,
    LeadActivity,
    LeadReceived,
)
from leadflow_shared.datasets import shared_dataset
from leadflow_shared.events import CloudEvent
from leadflow_shared.kafka import ensure_topics, physical_topic
from leadflow_shared.normalize import company_name
from rich.console import Console

console = Console(soft_wrap=True, width=max(140, Console().width))

DATABASE = "leadflow_bench_scoring"
HISTORY_NAME = "xeducation_leads_train.csv"
LABEL, ID_COLUMN = "Converted", "Prospect ID"
SOURCE = "/leadflow/bench"

GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文斌宇浩凯鑫婷雪琳晨阳"
TRADES = ["科技", "网络技术", "信息技术", "软件", "电子商务", "智能制造", "医疗器械", "教育科技", "物流", "咨询", "贸易",
          "金融信息服务"]
PLACES = [("上海", "上海"), ("北京", "北京"), ("广东", "深圳"), ("广东", "广州"), ("浙江", "杭州"), ("江苏", "南京"),
          ("江苏", "苏州"), ("四川", "成都"), ("湖北", "武汉"), ("山东", "济南"), ("福建", "厦门"), ("陕西", "西安"),
          ("湖南", "长沙"), ("河南", "郑州"), ("天津", "天津"), ("重庆", "重庆")]
CITIES = [city for _, city in PLACES]
# The default rules' industries (core, good, public sector) and a few they do not name.
INDUSTRIES = ["软件和信息技术服务业", "信息传输、软件和信息技术服务业", "互联网和相关服务", "制造业", "金融业",
              "批发和零售业", "租赁和商务服务业", "科学研究和技术服务业", "公共管理、社会保障和社会组织", "教育",
              "卫生和社会工作", "建筑业", "交通运输、仓储和邮政业", "房地产业"]
TITLES = ["CEO", "总经理", "创始人", "副总裁", "CTO", "销售总监", "市场总监", "IT负责人", "销售经理", "市场经理", "运营主管",
          "IT经理", "市场专员", "销售助理", "行政文员", "采购经理", "产品经理", "数字化转型负责人", "在校学生", "实习生"]
TITLE_WEIGHTS = [3, 5, 3, 2, 2, 8, 7, 4, 12, 10, 6, 5, 8, 4, 2, 4, 5, 2, 1, 1]
SOURCES = [Channel.paid_ads, Channel.website, Channel.wechat_official_account, Channel.mini_program,
           Channel.channel_partner, Channel.referral, Channel.offline_event, Channel.hotline_400,
           Channel.xiaohongshu, Channel.app]
SOURCE_WEIGHTS = [20, 20, 15, 8, 10, 6, 6, 5, 6, 4]
PRODUCTS = ["销售云 CRM", "营销自动化", "客服工单", "SCRM 企业微信版", "数据中台"]
SIZES = [("少于50人", 20, 1e6), ("50-99人", 60, 3e6), ("100-499人", 200, 1e7), ("500-999人", 700, 5e7),
         ("1000人以上", 2000, 2e8)]
# (type, weight, url or None): activities as a tracking pixel, a mail tool or WeChat would report them.
ACTIVITY_KINDS: list[tuple[str, int, list[str] | None]] = [
    ("page_view", 30, ["https://www.example.cn/pricing", "https://www.example.cn/pricing?plan=pro",
                       "https://www.example.cn/cases/retail", "https://www.example.cn/solutions/crm",
                       "https://www.example.cn/blog/scrm-guide", "https://www.example.cn/", "https://www.example.cn/careers"]),
    ("email_open", 18, None),
    ("email_click", 7, None),
    ("wechat_article_read", 14, None),
    ("template_message_click", 4, None),
    ("form_submit", 5, ["https://www.example.cn/whitepaper/2025-crm"]),
    ("demo_request", 3, ["https://www.example.cn/demo"]),
    ("trial_signup", 3, ["https://www.example.cn/trial"]),
    ("event_attended", 3, None),
    ("call_connected", 5, None),
    ("wechat_friend_added", 3, None),
    ("community_active", 4, None),
    ("unsubscribe", 1, None),
]


def bench(
    leads: Annotated[int, typer.Option(help="LeadReceived events (one per lead)")] = 20_000,
    activities: Annotated[int, typer.Option(help="LeadActivity events for those leads")] = 40_000,
    partitions: Annotated[int, typer.Option(help="partitions of the bench topics (LEADFLOW_KAFKA_TOPIC_PARTITIONS)")] = 6,
    with_model: Annotated[bool, typer.Option("--with-model/--no-model",
                                             help="score with a predictive model (trained on --history)")] = True,
    history: Annotated[Path | None, typer.Option(help=f"history CSV to train on (default: shared/datasets/"
                                                      f"{HISTORY_NAME} beside the repository)")] = None,
    model: Annotated[Path | None, typer.Option(help="an already trained model directory (skips training)")] = None,
    predict_runs: Annotated[int, typer.Option(help="single-lead predictions and rule evaluations timed")] = 2_000,
    keep_topics: Annotated[bool, typer.Option(help="leave the bench topics on the cluster")] = False,
    instances: Annotated[int, typer.Option(min=1, help="scoring processes in the consumer groups (replicas)")] = 1,
    profile: Annotated[Path | None, typer.Option(help="run the service under cProfile, write its stats to this "
                                                      "file and print the top functions (slows it down)")] = None,
) -> None:
    """Events/s of one scoring process beside the raw Kafka consume rate; single-lead predict and rules latency."""
    env = stack_env(["postgres", "kafka"])
    history_path = None
    if with_model and model is None:
        history_path = history or _default_history()
        if history_path is None or not history_path.is_file():
            raise typer.BadParameter(f"no history CSV to train on: pass --history (looked for shared/datasets/{HISTORY_NAME})")
    common.run(_bench(env, leads, activities, partitions, with_model, history_path, model, predict_runs, keep_topics,
                      profile, instances), console)


def _default_history() -> Path | None:
    return shared_dataset(HISTORY_NAME)


# ---- the run -------------------------------------------------------------------------------------

async def _bench(env: dict[str, str], n_leads: int, n_activities: int, partitions: int, with_model: bool,
                 history: Path | None, model_dir: Path | None, predict_runs: int, keep_topics: bool,
                 profile: Path | None, instances: int) -> None:
    from leadflow_scoring.app import service

    bootstrap = env["LEADFLOW_KAFKA_BOOTSTRAP"]
    admin_dsn = env["LEADFLOW_PG_DSN"]
    dsn, plain = bench_database(admin_dsn, DATABASE)
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-scoring-{run}."

    await recreate_bench_database(admin_dsn, DATABASE)
    await asyncio.to_thread(service.migrate, dsn)

    tmp = tempfile.TemporaryDirectory(prefix="leadflow-bench-scoring-")
    model_version = None
    if with_model:
        if model_dir is None:
            model_dir = Path(tmp.name) / "model"
            with console.status(f"training a predictive model on {history}…"):
                started = time.perf_counter()
                model_version = await asyncio.to_thread(_train, history, model_dir)
            console.print(f"model {model_version} trained in {time.perf_counter() - started:.1f} s")
        from leadflow_scoring.admin import store_model

        model_version = await asyncio.to_thread(store_model, model_dir, activate=True, dsn=dsn)

    rng = random.Random(20250601)
    now = datetime.now(UTC)
    lead_events, lead_rows = _leads(rng, n_leads)
    activity_events = _activities(rng, lead_rows, n_activities, now)
    companies = await _seed_registry(plain, rng, n_leads)
    total = len(lead_events) + len(activity_events)

    await ensure_topics(bootstrap, prefix=prefix, partitions=partitions)
    await common.topic_partitions(bootstrap, [physical_topic(t.name, prefix) for t in (LEADS_RECEIVED, LEADS_ACTIVITY, LEADS_SCORED)])
    try:
        produced = await common.produce(bootstrap, console, [(physical_topic(LEADS_RECEIVED.name, prefix), lead_events),
                                              (physical_topic(LEADS_ACTIVITY.name, prefix), activity_events)])
        topics = [physical_topic(t.name, prefix) for t in (LEADS_RECEIVED, LEADS_ACTIVITY)]
        ceiling, ceiling_count = await common.raw_ceiling(bootstrap, topics, total)

        spawned = time.perf_counter()
        procs, _, logs = await common.start_instances(
            "leadflow_scoring", "scoring", instances, env, dsn, topic_prefix=prefix, group_prefix=f"bench-{run}",
            partitions=partitions, profile=profile)
        try:
            timing = await _follow(plain, bootstrap, physical_topic(LEADS_SCORED.name, prefix), total, procs,
                                   logs, spawned, time.perf_counter())
            peaks = [peak_rss(proc.pid) for proc in procs]
            peak = max((p for p in peaks if p is not None), default=None)
        finally:
            await common.stop_instances(procs, interrupt_first=profile is not None)
        checks = await _checks(plain)
    finally:
        if not keep_topics:
            await common.delete_topics(bootstrap, prefix, console)

    if profile:
        _print_profile(profile)
    latency = await asyncio.to_thread(_latencies, model_dir, history, lead_rows, activity_events, predict_runs, now)
    tmp.cleanup()
    _report(n_leads=len(lead_events), n_activities=len(activity_events), produced=produced, partitions=partitions,
            companies=companies, model_version=model_version, ceiling=ceiling, ceiling_count=ceiling_count,
            timing=timing, peak_rss=peak, checks=checks, latency=latency, log_path=logs[0], instances=instances)


def _train(history: Path | None, out: Path) -> str:
    import pandas as pd

    from leadflow_scoring.predictive import train_model

    frame = pd.read_csv(history, low_memory=False)
    # Two cross-validation folds (only the printed metrics depend on them); calibration as `train` does it,
    # so the model predicts exactly as a production one would.
    info = train_model(frame, LABEL, ID_COLUMN, out_dir=out, folds=2, calibration_folds=5)
    return info.version


# ---- the events ----------------------------------------------------------------------------------

def _company(i: int) -> str:
    return common.company(i, CITIES, TRADES)


def _leads(rng: random.Random, count: int) -> tuple[list[tuple[str, bytes, list[tuple[str, bytes]]]], list[dict[str, Any]]]:
    """LeadReceived events (key, value, headers) and each lead's snapshot (for activities and latency runs)."""
    events, rows = [], []
    for i in range(count):
        lead_id = uuid.uuid4()
        company = i // 3  # a company per three leads
        province, city = PLACES[company % len(PLACES)]
        lead: dict[str, Any] = {
            "name": rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
            "mobile": _mobile(i),
            "company_name": _company(company) if rng.random() < 0.93 else None,
            "title": rng.choices(TITLES, TITLE_WEIGHTS)[0],
            "province": province if rng.random() < 0.7 else None,
            "city": city if rng.random() < 0.7 else None,
            "industry": rng.choice(INDUSTRIES) if rng.random() < 0.5 else None,  # else the registry may fill it
            "source": rng.choices(SOURCES, SOURCE_WEIGHTS)[0].value,
            "campaign": f"2025-{rng.choice(['春季', '618', '双11', '行业峰会'])}-{rng.randrange(1, 9)}",
        }
        if rng.random() < 0.4:
            lead["email"] = f"user{i}@{rng.choice(['qq.com', '163.com', 'example.cn', 'corp.example.cn'])}"
        if rng.random() < 0.3:
            lead["wechat"] = f"wx_{i:08d}"
        if rng.random() < 0.35:
            lead["product_interest"] = rng.choice(PRODUCTS)
        if rng.random() < 0.25:
            lead["bant"] = {"budget": rng.choice(["50万", "暂无预算", "20-30万", "待定"]),
                            "authority": rng.choice(["决策人", "影响者", "老板拍板"]),
                            "need": rng.choice(["销售过程管理", "线索转化率低", "无"]),
                            "timeline": rng.choice(["3个月内", "半年内", "明年", "尽快"])}
        if rng.random() < 0.3:
            lead["custom"] = {"sales_team_size": rng.choice([5, 12, 25, 60, 150])}
        lead = {k: v for k, v in lead.items() if v is not None}
        data = LeadReceived(lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created", lead=lead)
        event = CloudEvent[LeadReceived](source="/leadflow/intake", type=LEADS_RECEIVED.event_type,
                                         subject=str(lead_id), data=data)
        events.append((event.subject, event.to_bytes(), _headers(event)))
        rows.append({"lead_id": lead_id, "lead": data.lead.model_dump(mode="json", exclude_none=True)})
    return events, rows


def _activities(rng: random.Random, leads: list[dict[str, Any]], count: int, now: datetime
                ) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    """Activities spread unevenly over the leads (a few busy ones, many quiet), over the last three weeks;
    a quarter name only the person's mobile (a WeChat or SMS touch, before the lead id is known)."""
    weights = [k for _, k, _ in ACTIVITY_KINDS]
    events = []
    for _ in range(count):
        lead = leads[int(len(leads) * rng.random() ** 1.6)] if leads else None
        kind, _, urls = rng.choices(ACTIVITY_KINDS, weights)[0]
        attributes: dict[str, Any] = {}
        if kind == "call_connected":
            attributes["duration_seconds"] = rng.choice([15, 40, 75, 180, 420])
        elif kind in ("email_open", "email_click"):
            attributes["campaign"] = f"edm-{rng.randrange(1, 30)}"
        elif kind == "wechat_article_read":
            attributes["article"] = f"公众号文章-{rng.randrange(1, 200)}"
        by_mobile = lead is not None and rng.random() < 0.25
        data = LeadActivity(
            activity_id=uuid.uuid4(), lead_id=None if by_mobile or lead is None else lead["lead_id"],
            mobile=lead["lead"]["mobile"] if by_mobile and lead else None, type=kind,
            url=rng.choice(urls) if urls else None,
            occurred_at=now - timedelta(seconds=rng.randrange(0, 21 * 86400)), attributes=attributes)
        subject = str(data.lead_id) if data.lead_id else f"mobile:{data.mobile}"  # as scoring's API keys them
        event = CloudEvent[LeadActivity](source="/leadflow/tracking", type=LEADS_ACTIVITY.event_type,
                                         subject=subject, data=data)
        events.append((event.subject, event.to_bytes(), _headers(event)))
    return events


def _headers(event: CloudEvent[Any]) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in event.kafka_headers().items()]


async def _seed_registry(dsn: str, rng: random.Random, n_leads: int) -> int:
    """Two companies in three known to the registry (enrichment fills industry, size, capital)."""
    rows = []
    for company in range(n_leads // 3 + 1):
        if company % 3 == 2:
            continue
        name = _company(company)
        size, employees, capital = rng.choice(SIZES)
        province, city = PLACES[company % len(PLACES)]
        rows.append((name, company_name(name).canonical, rng.choice(INDUSTRIES), size, employees, capital,
                     province, city, "bench"))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "registry_companies", schema_name="scoring", records=rows,
            columns=["name", "canonical", "industry", "size", "employees", "registered_capital", "province", "city",
                     "source"])
        await conn.execute("ANALYZE scoring.registry_companies")
    finally:
        await conn.close()
    return len(rows)


# ---- Kafka ---------------------------------------------------------------------------------------

async def _scored_in_kafka(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> int:
    ends = await consumer.end_offsets(partitions)
    return int(sum(ends.values()))


# ---- the service ---------------------------------------------------------------------------------

async def _follow(dsn: str, bootstrap: str, scored_topic: str, total: int, procs: list[asyncio.subprocess.Process],
                  logs: list[Path], spawned: float, ready: float, stall_s: float = 120.0) -> dict[str, float]:
    """Seconds from the process's start to: ready, the first event processed (the start of its transaction,
    from processed_events — consumers may start before /health/ready answers), every event processed, and
    every leads.scored.v1 the service wrote in Kafka (outbox drained, the topic's end offsets summing to it)."""
    conn = await asyncpg.connect(dsn)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, client_id="leadflow-bench-offsets")
    await consumer.start()
    try:
        local, db_now = time.perf_counter(), await conn.fetchval("SELECT clock_timestamp()")

        def from_db(ts: datetime) -> float:  # a Postgres timestamp on this process's clock
            return local + (ts - db_now).total_seconds()

        partitions = [TopicPartition(scored_topic, p) for p in range((await common.topic_partitions(bootstrap, [scored_topic]))[scored_topic])]
        done = None
        last_count, last_change = -1, time.perf_counter()
        with common.progress(console) as progress:
            task = progress.add_task("scoring applies the events", total=total)
            while True:
                now = time.perf_counter()
                for proc, log in zip(procs, logs):
                    if proc.returncode is not None:
                        raise RuntimeError(f"scoring exited with {proc.returncode} (see {log})")
                count = int(await conn.fetchval("SELECT count(*) FROM scoring.processed_events"))
                if count != last_count:
                    progress.update(task, completed=count)
                    last_count, last_change = count, now
                if count >= total and done is None:
                    done = now
                if done is not None:
                    unsent = int(await conn.fetchval("SELECT count(*) FROM scoring.outbox "
                                                     "WHERE sent_at IS NULL AND failed_at IS NULL"))
                    if unsent == 0:
                        written = int(await conn.fetchval("SELECT count(*) FROM scoring.outbox"))
                        if await _scored_in_kafka(consumer, partitions) >= written:
                            drained = time.perf_counter()
                            break
                if now - last_change > stall_s:
                    raise RuntimeError(f"no progress for {stall_s:.0f} s at {count:,}/{total:,} processed "
                                       f"(see {logs[0]})")
                await asyncio.sleep(0.2)
        first = from_db(await conn.fetchval("SELECT min(processed_at) FROM scoring.processed_events"))
        # The subscriptions join the consumer group one after another (each join a rebalance): from the moment
        # both topics are being applied, the steady rate.
        both_db = await conn.fetchval("SELECT max(started) FROM (SELECT min(processed_at) AS started "
                                      "FROM scoring.processed_events GROUP BY topic) AS t")
        both_db = max(both_db, db_now)  # and every process ready (db_now was read once they all were)
        after = await conn.fetchval("SELECT count(*) FROM scoring.processed_events WHERE processed_at >= $1", both_db)
        return {"ready": ready - spawned, "first": first - spawned, "both": from_db(both_db) - spawned,
                "after_both": float(after), "done": done - spawned, "drained": drained - spawned}
    finally:
        await consumer.stop()
        await conn.close()


async def _checks(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM scoring.processed_events) AS processed, "
            "(SELECT count(*) FROM scoring.leads) AS leads, "
            "(SELECT count(*) FROM scoring.leads WHERE enrichment IS NOT NULL) AS enriched, "
            "(SELECT count(*) FROM scoring.leads WHERE probability IS NOT NULL) AS predicted, "
            "(SELECT count(*) FROM scoring.activities) AS activities, "
            "(SELECT count(*) FROM scoring.activities WHERE applied_at IS NULL) AS waiting, "
            "(SELECT count(*) FROM scoring.outbox) AS published, "
            "(SELECT count(*) FROM scoring.leads WHERE stage = 'mql') AS mql, "
            "(SELECT count(*) FROM scoring.leads WHERE stage = 'disqualified') AS disqualified")
        # processed_at is the transaction's start (now()): one value per batch transaction.
        topics = await conn.fetch(
            "SELECT topic, count(DISTINCT processed_at) AS batches, count(*) AS events, "
            "extract(epoch FROM max(processed_at) - min(processed_at)) AS span "
            "FROM scoring.processed_events GROUP BY topic ORDER BY topic")
        return {**dict(row), "topics": {r["topic"]: (r["batches"], r["events"] / r["batches"], float(r["span"]))
                                        for r in topics}}
    finally:
        await conn.close()


# ---- single-lead latency -------------------------------------------------------------------------

def _latencies(model_dir: Path | None, history: Path | None, leads: list[dict[str, Any]],
               activity_events: list[tuple[str, bytes, list[tuple[str, bytes]]]], runs: int, now: datetime
               ) -> dict[str, list[float]]:
    """Per-lead timings in this process (the service stopped, so it has a core to itself): the model's
    predict_proba and score_and_explain on one history row, the service's own call for one bench lead,
    and the rules (evaluate_state) for one lead with its behaviour state."""
    import gc

    from leadflow_scoring.domain.rules_yaml import load_default_rules
    from leadflow_scoring.domain.scoring import build_state, evaluate_state
    from leadflow_scoring.domain.scorer import Scorer, model_features

    rules = load_default_rules()
    timings: dict[str, list[float]] = {}
    rng = random.Random(7)
    # Each lead's history (the activities addressed by its id), as the service's state would hold it.
    by_lead: dict[str, list[dict[str, Any]]] = {}
    for _, value, _ in activity_events:
        data = json.loads(value)["data"]
        if data.get("lead_id"):
            by_lead.setdefault(data["lead_id"], []).append(data)
    sample = [leads[rng.randrange(len(leads))] for _ in range(runs)]
    states = [build_state([{**a, "occurred_at": datetime.fromisoformat(a["occurred_at"])}
                           for a in by_lead.get(str(lead["lead_id"]), [])], rules) for lead in sample]

    model = None
    if model_dir is not None:
        import pandas as pd

        from leadflow_scoring.predictive import DEFAULT_EXCLUDED, load_model

        model = load_model(model_dir)
        if history is not None and history.is_file():
            frame = pd.read_csv(history, low_memory=False)
            rows = frame.drop(columns=[c for c in (LABEL, *DEFAULT_EXCLUDED) if c in frame.columns]).to_dict("records")
        else:  # a given model without its history: the bench leads stand in
            rows = [model_features({"lead": lead["lead"]}) for lead in sample]
        rows = [rows[rng.randrange(len(rows))] for _ in range(runs)]
        for row in rows[:50]:  # warm up (first calls build caches)
            model.predict_proba([row])
        timings["predict"] = _timed(lambda i: model.predict_proba([rows[i]]), runs)
        timings["explain"] = _timed(lambda i: model.score_and_explain(rows[i]), runs)
        scorer = Scorer(rules, model)
        service_rows = [{"lead": lead["lead"], "activity_counts": {}} for lead in sample]
        timings["service_predict"] = _timed(lambda i: scorer.probabilities([service_rows[i]]), runs)
    gc.collect()
    probability = 0.3 if model is not None else None
    timings["rules"] = _timed(lambda i: evaluate_state(sample[i]["lead"], states[i], rules, now, probability), runs)
    return timings


def _timed(call: Callable[[int], Any], runs: int) -> list[float]:
    out = []
    for i in range(runs):
        started = time.perf_counter()
        call(i)
        out.append(time.perf_counter() - started)
    return out


def _print_profile(path: Path, top: int = 30) -> None:
    import io
    import pstats

    if not path.is_file():
        console.print(f"[yellow]no profile written to {path}[/]")
        return
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(top)
    console.print(f"[bold]scoring process, top {top} functions by own time[/] ({path}):")
    console.print(out.getvalue().split("\n\n", 1)[-1], markup=False, highlight=False)


# ---- report --------------------------------------------------------------------------------------

def _report(*, n_leads: int, n_activities: int, produced: float, partitions: int, companies: int,
            model_version: str | None, ceiling: float, ceiling_count: int, timing: dict[str, float],
            peak_rss: int | None, checks: dict[str, Any], latency: dict[str, list[float]], log_path: Path,
            instances: int) -> None:
    total = n_leads + n_activities
    model = f"model {model_version}" if model_version else "no model"
    processes = f"{instances} scoring processes, " if instances > 1 else ""
    table = report_table(f"scoring benchmark ({os.cpu_count()} cores, {processes}{n_leads:,} leads + {n_activities:,} "
                         f"activities, {partitions} partitions, {model})")
    t = timing
    busy = t["done"] - t["first"]
    rows = [
        (f"events/s, first event processed → all {total:,} processed ({busy:.1f} s)", total / busy),
        (f"events/s, first event processed → every leads.scored.v1 in Kafka ({t['drained'] - t['first']:.1f} s)",
         total / (t["drained"] - t["first"])),
        (f"events/s, both topics being applied by every process → all processed ({t['done'] - t['both']:.1f} s, "
         f"{int(t['after_both']):,} events; {t['both'] - t['first']:.1f} s of group joins before)",
         t["after_both"] / max(1e-9, t["done"] - t["both"])),
        (f"events/s, /health/ready → all processed ({t['done'] - t['ready']:.1f} s; the first event was processed "
         f"{abs(t['first'] - t['ready']):.1f} s {'before' if t['first'] < t['ready'] else 'after'} ready)",
         total / (t["done"] - t["ready"])),
        (f"events/s, process start → all processed ({t['done']:.1f} s: imports, rules and model load, group joins)",
         total / t["done"]),
    ]
    for title, rate in rows:
        table.add_row(title, f"{rate:,.0f}", f"{ceiling:,.0f}", f"{rate / ceiling:.1%}")
    for key, title in (("predict", "predict_proba, one history lead: p50 / p99 ms"),
                       ("explain", "score_and_explain, one history lead: p50 / p99 ms"),
                       ("service_predict", "Scorer.probabilities, one bench lead (as the service calls it): p50 / p99 ms"),
                       ("rules", "rules (evaluate_state, default rules), one lead: p50 / p99 ms")):
        if key in latency:
            values = latency[key]
            table.add_row(title, f"{pct(values, .5):.3f} / {pct(values, .99):.3f}", "", "")
    table.add_section()
    table.add_row("leads / activities produced (producer events/s)",
                  f"{n_leads:,} / {n_activities:,} ({produced:,.0f}/s)", f"{ceiling_count:,} read", "")
    table.add_row("leads.scored.v1 published", f"{checks['published']:,}", "", "")
    table.add_row("leads scored / enriched from the registry / with a probability",
                  f"{checks['leads']:,} / {checks['enriched']:,} / {checks['predicted']:,}", f"{companies:,} companies", "")
    table.add_row("leads MQL / disqualified", f"{checks['mql']:,} / {checks['disqualified']:,}", "", "")
    table.add_row("activities stored / still waiting for their lead", f"{checks['activities']:,} / {checks['waiting']:,}",
                  "", "")
    table.add_row("service start-up until /health/ready", f"{t['ready']:.1f} s", "", "")
    for topic, (batches, size, span) in checks["topics"].items():
        table.add_row(f"{topic}: transactions, mean events each, first → last transaction",
                      f"{batches:,}, {size:,.0f}, {span:.1f} s", "", "")
    if peak_rss is not None:
        table.add_row("scoring process peak RSS (VmHWM; the largest)", f"{peak_rss / 2**20:,.0f} MiB", "", "")
    console.print(table)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(f"load average at the end (1 / 5 / 15 min): {load} — other work on the machine moves these figures.")
    console.print("raw ceiling: one plain aiokafka consumer (no group) reading the same messages from both topics "
                  "from the start, json.loads on each value, nothing else. Latencies were timed in the bench "
                  f"process after the service stopped. Service log: {log_path}")
    if checks["processed"] != total or checks["waiting"]:
        console.print(f"[yellow]check: {checks['processed']:,} events processed of {total:,}; "
                      f"{checks['waiting']:,} activities still waiting[/]")
