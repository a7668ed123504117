"""The fault runs' machinery: a stack of their own (so that stopping Kafka or Postgres disturbs no other test),
every service as a process on it, a partner posting leads the way a careful client does (each batch retried
with its Idempotency-Key until a 2xx), the faults, and the counts that say whether anything was lost or
applied twice.

Nothing here reads a service's tables to make the system work: the checks read them as an auditor would.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from dotenv import dotenv_values

from leadflow_localstack import procs
from leadflow_localstack.fleet import Fleet
from leadflow_localstack.paths import local_dir
from leadflow_shared.db import Database
from leadflow_shared.service import discover_services

LEADFLOW = str(Path(sys.executable).parent / "leadflow")
ADDRESSES = ("LEADFLOW_PG_DSN", "LEADFLOW_KAFKA_BOOTSTRAP", "LEADFLOW_TEMPORAL_ADDRESS")
BANT = {"budget": "预算30万", "authority": "采购经理, 决策人", "need": "线索管理", "timeline": "本季度"}
TEAM = "chaos-team"
POOL = "chaos-pool"


class PrivateStack:
    """Postgres, Kafka and Temporal under a folder of the run's own, driven by `leadflow stack …` as an
    operator drives it (the stop and restart of a component are the real commands)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if k not in ADDRESSES and not k.startswith("LEADFLOW_STAFF")}
        self.env["LEADFLOW_LOCAL_DIR"] = str(root)
        root.mkdir(parents=True, exist_ok=True)
        shared_libs = local_dir() / "kafka-libs"  # Kafka's jars, resolved once for the machine's own stack
        if shared_libs.is_dir() and not (root / "kafka-libs").exists():
            (root / "kafka-libs").symlink_to(shared_libs)

    def stack(self, verb: str, *components: str) -> float:
        """`leadflow stack <verb> [components]`; the seconds it took."""
        began = time.monotonic()
        done = subprocess.run([LEADFLOW, "stack", verb, *components], env=self.env, capture_output=True, text=True,
                              timeout=300)
        if done.returncode != 0:
            raise AssertionError(f"`leadflow stack {verb} {' '.join(components)}` failed:\n{done.stdout}\n{done.stderr}")
        return time.monotonic() - began

    def addresses(self) -> dict[str, str]:
        values = dotenv_values(self.root / "env", interpolate=False)
        return {k: v for k, v in values.items() if k.startswith("LEADFLOW_") and v}

    def ports(self) -> dict[str, int]:
        state = json.loads((self.root / "stack.json").read_text())
        return {key: port for info in state["components"].values() for key, port in info.get("ports", {}).items()}

    def pid(self, component: str) -> int | None:
        info = json.loads((self.root / "stack.json").read_text())["components"].get(component, {})
        return info.get("pid") if procs.alive(info) else None

    def destroy(self) -> None:
        subprocess.run([LEADFLOW, "stack", "down"], env=self.env, capture_output=True, timeout=120)
        shutil.rmtree(self.root, ignore_errors=True)


# ---- the organisation the leads are routed in -------------------------------------------------------

def configure(dsn: str, *, follow_up_days: int = 1) -> None:
    """Ten reps of one team, round robin; a lead recycled (回收) goes to the pool and stays there, so that every
    ownership's deadline fires once and is counted once."""
    from leadflow_assignment.cli import load_org, load_rules
    from leadflow_pool.db import metadata as pool_metadata
    from leadflow_pool.db import store_pools
    from leadflow_pool.domain.pools import parse_pools

    org = {"teams": [{"id": TEAM, "default_pool": POOL}],
           "reps": [{"id": f"chaos-rep-{i}", "team": TEAM, "max_open_leads": 100_000, "max_new_per_day": 100_000}
                    for i in range(10)]}
    rules = {"rules": [{"id": "recycled-to-pool", "when": {"recycled": True}, "strategy": "pool", "team": TEAM},
                       {"id": "everyone", "strategy": "round_robin", "team": TEAM}]}
    load_org(json.dumps(org), dsn=dsn)
    load_rules(json.dumps(rules), dsn=dsn)
    pools = parse_pools({"default_pool": POOL, "pools": [{
        "id": POOL, "filter": {"teams": [TEAM]}, "claimers": {"teams": [TEAM]},
        "rules": {"first_follow_up_days": follow_up_days, "conversion_days": 30, "reminder_hours": 0}}]})

    async def store() -> None:
        db = Database(dsn, pool_metadata, "/tests/chaos", pool_size=1)
        try:
            async with db.uow() as uow:
                await store_pools(uow.session, pools, "chaos")
                await uow.commit()
        finally:
            await db.dispose()

    asyncio.run(store())


def lead(i: int, run: str) -> dict[str, Any]:
    return {"name": f"测试{i}", "mobile": f"+86137{int(run[:4], 16) % 10_000:04d}{i:04d}",
            "email": f"c{i}.{run}@example.cn", "company_name": f"混沌{run}{i}号科技有限公司", "province": "上海",
            "city": "上海", "source": "channel_partner", "bant": BANT}


# ---- the partner ----------------------------------------------------------------------------------

@dataclass
class Poster:
    """A partner posting `total` leads in batches at `rate` leads/s, each batch retried (same Idempotency-Key)
    until intake answers 2xx: what it accepted is what must come out the other end."""

    urls: list[str]
    key: str
    total: int
    rate: float
    batch: int = 20
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    accepted: set[str] = field(default_factory=set)
    retries: int = 0
    answers: dict[int, int] = field(default_factory=dict)

    async def post_all(self) -> None:
        began = time.monotonic()
        async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {self.key}"}) as client:
            for b, start in enumerate(range(0, self.total, self.batch)):
                await asyncio.sleep(max(0.0, began + start / self.rate - time.monotonic()))
                leads = [lead(i, self.run) for i in range(start, min(self.total, start + self.batch))]
                await self._post(client, b, leads, str(uuid.uuid4()))

    async def _post(self, client: httpx.AsyncClient, b: int, leads: list[dict[str, Any]], key: str) -> None:
        tries = 0
        while True:
            url = self.urls[(b + tries) % len(self.urls)]
            try:
                reply = await client.post(f"{url}/v1/leads/batch", json={"leads": leads},
                                          headers={"Idempotency-Key": key})
                self.answers[reply.status_code] = self.answers.get(reply.status_code, 0) + 1
                if reply.status_code == 202:
                    results = reply.json()["results"]
                    refused = [r for r in results if r["status"] != "accepted"]
                    assert not refused, f"intake refused valid leads: {refused[:3]}"
                    self.accepted.update(r["lead_id"] for r in results)
                    return
                assert reply.status_code >= 500 or reply.status_code == 429, f"{reply.status_code}: {reply.text[:300]}"
            except httpx.HTTPError:
                pass  # intake away (killed, restarting): the same batch again, with the same key
            tries += 1
            self.retries += 1
            await asyncio.sleep(min(2.0, 0.1 * tries))


# ---- poison ---------------------------------------------------------------------------------------

def subscriptions(names: Iterable[str]) -> dict[str, list[str]]:
    """The named services' consumed topics, as their own code declares them."""
    found = {}
    for name, service in discover_services().items():
        if name not in names:
            continue
        settings = service.settings()
        container = service.bootstrap(settings, Database(settings.pg_dsn, service.metadata, "/tests/chaos", pool_size=1))
        found[name] = sorted({s.topic.name for s in service.subscriptions(container)})
    return found


async def feed_poison(bootstrap: str, topics: list[str], oversized_bytes: int) -> dict[str, list[str]]:
    """Into every topic: a record that is not JSON, one that is JSON but no event, and one at the size limit;
    returns each topic's poison keys."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=oversized_bytes + 4096)
    await producer.start()
    keys: dict[str, list[str]] = {}
    try:
        for topic in topics:
            stamp = uuid.uuid4().hex[:8]
            big = json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "type": "x", "source": "/chaos",
                              "data": {"lead_id": "nope", "padding": "x" * oversized_bytes}}).encode()[:oversized_bytes]
            records = {f"poison-text-{stamp}": b"\xff\xfe not json at all",
                       f"poison-shape-{stamp}": json.dumps({"hello": "world"}).encode(),
                       f"poison-huge-{stamp}": big}
            for key, value in records.items():
                await producer.send_and_wait(topic, value, key=key.encode())
            keys[topic] = list(records)
    finally:
        await producer.stop()
    return keys


async def dead_lettered(bootstrap: str, topics: list[str]) -> dict[tuple[str, str], set[str]]:
    """(original topic, consumer service) → the keys in `<topic>.dlq`."""
    consumer = AIOKafkaConsumer(*[f"{t}.dlq" for t in topics], bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: dict[tuple[str, str], set[str]] = {}
    try:
        idle = 0
        while idle < 3:
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    key = (headers["x-leadflow-original-topic"], headers["x-leadflow-consumer"])
                    found.setdefault(key, set()).add(record.key.decode())
    finally:
        await consumer.stop()
    return found


# ---- the audit ------------------------------------------------------------------------------------

@dataclass
class Audit:
    accepted: int
    submissions_twice: int
    routed: dict[str, int]
    routed_twice: int
    scored_twice: int
    ownerships_twice: int
    lost: list[str]
    owned: int
    recycled: int

    @property
    def duplicated(self) -> int:
        return self.submissions_twice + self.routed_twice + self.scored_twice + self.ownerships_twice

    def table(self) -> str:
        rows = [("accepted (2xx)", self.accepted), ("assigned", self.routed.get("assigned", 0)),
                ("pooled", self.routed.get("pooled", 0)), ("queued", self.routed.get("queued", 0)),
                ("lost", len(self.lost)), ("duplicated", self.duplicated),
                ("  of which: submissions / decisions / scores / ownerships",
                 f"{self.submissions_twice} / {self.routed_twice} / {self.scored_twice} / {self.ownerships_twice}"),
                ("deadlines fired (recycled) of ownerships", f"{self.recycled} of {self.owned}")]
        return "\n".join(f"  {name:<58} {value}" for name, value in rows)


async def audit(dsn: str, accepted: set[str]) -> Audit:
    """What the services recorded of the accepted leads, read as an auditor reads: each lead submitted once,
    scored once, routed once (its first decision), its first ownership begun once, and its deadline fired."""
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg", "postgresql"))
    ids = [uuid.UUID(i) for i in accepted]
    try:
        submissions_twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT lead_id FROM intake.submissions WHERE lead_id = ANY($1) "
            "GROUP BY lead_id HAVING count(*) > 1) t", ids)
        decisions = await conn.fetch(
            "SELECT lead_id, outcome, count(*) AS n FROM assignment.decisions WHERE lead_id = ANY($1) "
            "AND kind = 'route' GROUP BY lead_id, outcome", ids)
        scored_twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT key FROM scoring.outbox WHERE topic = 'leads.scored.v1' "
            "AND key = ANY($1::text[]) GROUP BY key HAVING count(*) > 1) t", [str(i) for i in ids])
        ownerships = await conn.fetch(
            "SELECT lead_id, count(*) AS n FROM pool.timeline WHERE kind = 'assigned' AND lead_id = ANY($1) "
            "AND detail->>'seq' = '1' GROUP BY lead_id", ids)
        recycled = await conn.fetchval(
            "SELECT count(DISTINCT lead_id) FROM pool.timeline WHERE kind = 'recycled' AND lead_id = ANY($1)", ids)
    finally:
        await conn.close()
    routed: dict[str, int] = {}
    seen: dict[str, int] = {}
    for row in decisions:
        routed[row["outcome"]] = routed.get(row["outcome"], 0) + 1
        seen[str(row["lead_id"])] = seen.get(str(row["lead_id"]), 0) + row["n"]
    return Audit(accepted=len(accepted), submissions_twice=submissions_twice, routed=routed,
                 routed_twice=sum(1 for n in seen.values() if n > 1), scored_twice=scored_twice,
                 ownerships_twice=sum(1 for r in ownerships if r["n"] > 1),
                 lost=sorted(set(accepted) - set(seen)), owned=len(ownerships), recycled=recycled)


async def until(probe: Any, timeout_s: float, every_s: float = 2.0) -> Any:
    """Call `probe` (async) until it returns something true or time runs out; returns its last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await probe()
        if answer or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(every_s)


# ---- logs -----------------------------------------------------------------------------------------

_LEVEL = re.compile(rb'"level": "(warning|error|critical)"')
_TIME = re.compile(rb'"timestamp": "([^"]+)"')


def complaints_between(log_file: Path, start: datetime, end: datetime) -> int:
    """Warning and error lines a service wrote in [start, end)."""
    if not log_file.exists():
        return 0
    count = 0
    for line in log_file.read_bytes().splitlines():
        if not _LEVEL.search(line):
            continue
        stamp = _TIME.search(line)
        if stamp and start <= datetime.fromisoformat(stamp.group(1).decode().replace("Z", "+00:00")) < end:
            count += 1
    return count


def now() -> datetime:
    return datetime.now(UTC)


__all__ = ["Audit", "Fleet", "Poster", "PrivateStack", "audit", "complaints_between", "configure", "dead_lettered",
           "feed_poison", "now", "subscriptions", "until"]
