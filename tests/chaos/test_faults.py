"""Faults during a run: every service killed (kill -9) and restarted in turn, the Kafka broker, Postgres and
Temporal (with pool's worker) stopped and restarted, poison fed to every consumer. Afterwards every lead
accepted with a 2xx is routed exactly once, no event was applied twice, every ownership deadline fired, and
each poison record sits in its topic's DLQ, once per consuming service.

`make test` runs the short run; `make test-chaos` the long one (10,000 leads, two instances of every consumer
service, so that the kills are rebalances too).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from leadflow_localstack import procs
from leadflow_localstack.fleet import CONSUMERS, PIPELINE, Fleet
from leadflow_shared.service import discover_services
from tests.chaos.harness import (
    Poster,
    PrivateStack,
    audit,
    complaints_between,
    configure,
    dead_lettered,
    feed_poison,
    now,
    subscriptions,
    until,
)

GRACE_S = 8.0  # LEADFLOW_SHUTDOWN_GRACE_S of the run's services
COMPLAINTS_PER_OUTAGE = 60  # warning/error lines a service may write while Kafka is away, however long


@dataclass
class Plan:
    leads: int
    rate: float  # leads/s the partner posts
    instances: int  # processes of each consumer service
    outage_s: float  # how long Kafka, Postgres and Temporal stay away
    business_day_minutes: float  # a first follow-up is due one business day after the assignment


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


async def run(root: Path, plan: Plan) -> None:
    stack = PrivateStack(root / "local")
    try:
        await asyncio.to_thread(stack.stack, "up")
        await _run(stack, root, plan)
    finally:
        await asyncio.to_thread(stack.destroy)


async def _run(stack: PrivateStack, root: Path, plan: Plan) -> None:
    from leadflow_intake.cli import add_partner

    addresses = stack.addresses()
    dsn = addresses["LEADFLOW_PG_DSN"]
    for service in discover_services().values():
        await asyncio.to_thread(service.migrate, dsn)
    await asyncio.to_thread(configure, dsn)
    _, key = await asyncio.to_thread(add_partner, "chaos partner", 1_000_000.0, dsn=dsn)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}, **addresses,
           "LEADFLOW_BUSINESS_DAY_MINUTES": str(plan.business_day_minutes),
           "LEADFLOW_SHUTDOWN_GRACE_S": str(GRACE_S), "LEADFLOW_COLLUSION_SCAN_S": "3600",
           "LEADFLOW_REACTIVATION_ENABLED": "false", "LEADFLOW_LOCAL_DIR": str(stack.root)}
    # notify too: it consumes the path's events, so its kills and poison count like the others'
    fleet = Fleet(env, root / "logs", instances={name: plan.instances for name in (*CONSUMERS, "notify")},
                  services=(*PIPELINE, "notify"))
    await asyncio.to_thread(fleet.start_all)
    try:
        consumed = await asyncio.to_thread(subscriptions, fleet.services)
        topics = sorted({t for names in consumed.values() for t in names})
        poison = await feed_poison(addresses["LEADFLOW_KAFKA_BOOTSTRAP"], topics, oversized_bytes=1_040_000)
        say(f"poison fed to {len(topics)} topics; posting {plan.leads:,} leads at {plan.rate:g}/s")
        poster = Poster([m.url for m in fleet.of("intake")], key, plan.leads, plan.rate)
        posting = asyncio.create_task(poster.post_all())
        await asyncio.to_thread(_faults, fleet, stack, plan)
        await posting
        say(f"posted: {len(poster.accepted):,} accepted, {poster.retries} retries, answers {poster.answers}")
        await _check(dsn, poster.accepted, plan)
        await _check_dead_letters(addresses["LEADFLOW_KAFKA_BOOTSTRAP"], consumed, poison)
    finally:
        await asyncio.to_thread(fleet.stop_all)


# ---- the faults -------------------------------------------------------------------------------------

def _faults(fleet: Fleet, stack: PrivateStack, plan: Plan) -> None:
    # each process in turn; with two instances of a service, one dies while the other carries on (a rebalance)
    for label in list(fleet.members):
        say(f"kill -9 {label}")
        fleet.kill(label)
        time.sleep(2)
        fleet.restart(label)
    _kafka_outage(fleet, stack, plan)
    _outage(stack, "postgres", plan.outage_s)
    say("temporal stopped with pool's worker killed")
    fleet.kill("pool-worker")
    _outage(stack, "temporal", plan.outage_s)
    fleet.restart("pool-worker")
    fleet.wait_ready(list(fleet.members), 180)


def _outage(stack: PrivateStack, component: str, seconds: float, during: Callable[[], None] | None = None) -> None:
    ports = stack.ports()
    say(f"{component} stopped for {seconds:.0f} s")
    stack.stack("down", component)
    if during:
        during()
    time.sleep(seconds)
    took = stack.stack("up", component)
    assert stack.ports() == ports, f"{component} came back on other ports: {stack.ports()} (was {ports})"
    say(f"{component} back on its ports in {took:.1f} s")


def _kafka_outage(fleet: Fleet, stack: PrivateStack, plan: Plan) -> None:
    """Kafka away: the services keep answering, write a bounded number of complaints, and one of them told to
    stop stops within its grace period (it would otherwise wait on the broker)."""
    stopped = fleet.of("opportunity")[-1]
    began = now()

    def stop_one() -> None:
        time.sleep(3)
        started = time.monotonic()
        procs.stop_all([(stopped.pid, stopped.started)], timeout_s=60, sig=signal.SIGTERM)
        took = time.monotonic() - started
        say(f"{stopped.label} stopped (SIGTERM) with Kafka away in {took:.1f} s")
        assert took < GRACE_S + 5, f"{stopped.label} took {took:.1f} s to stop with Kafka away (grace {GRACE_S} s)"

    _outage(stack, "kafka", plan.outage_s, during=stop_one)
    ended = now()
    fleet.restart(stopped.label)
    for member in fleet.members.values():
        complaints = complaints_between(member.log_file, began, ended)
        assert complaints <= COMPLAINTS_PER_OUTAGE, (
            f"{member.label} wrote {complaints} warning/error lines during a {plan.outage_s:.0f} s Kafka outage")


# ---- the checks -------------------------------------------------------------------------------------

async def _check(dsn: str, accepted: set[str], plan: Plan) -> None:
    async def all_routed() -> object:
        found = await audit(dsn, accepted)
        return found if not found.lost else None

    routed = await until(all_routed, 300)
    found = routed or await audit(dsn, accepted)
    say(f"routed:\n{found.table()}")
    assert not found.lost, f"{len(found.lost)} accepted leads never routed, e.g. {found.lost[:5]}"
    assert found.duplicated == 0, f"applied twice:\n{found.table()}"

    async def all_fired() -> object:
        fired = await audit(dsn, accepted)
        return fired if fired.recycled >= fired.owned else None

    deadline_s = plan.business_day_minutes * 60 * 2 + 180
    fired = await until(all_fired, deadline_s) or await audit(dsn, accepted)
    say(f"after the deadlines:\n{fired.table()}")
    assert fired.owned > 0 and fired.recycled == fired.owned, (
        f"{fired.owned - fired.recycled} ownership deadlines never fired")
    assert fired.duplicated == 0 and not fired.lost


async def _check_dead_letters(bootstrap: str, consumed: dict[str, list[str]], poison: dict[str, list[str]]) -> None:
    expected = {(topic, service): set(poison[topic]) for service, topics in consumed.items() for topic in topics}

    async def all_there() -> object:
        found = await dead_lettered(bootstrap, sorted(poison))
        missing = {k: v - found.get(k, set()) for k, v in expected.items() if v - found.get(k, set())}
        return (found, missing) if not missing else None

    result = await until(all_there, 120, every_s=5)
    found = result[0] if result else await dead_lettered(bootstrap, sorted(poison))
    missing = {f"{t} ({s})": sorted(v - found.get((t, s), set())) for (t, s), v in expected.items()
               if v - found.get((t, s), set())}
    assert not missing, f"poison not dead-lettered: {missing}"
    say(f"dead letters: {sum(len(v) for v in expected.values())} poison records, each in its DLQ once per "
        f"consuming service ({len(expected)} topic × service pairs)")


# ---- the runs -----------------------------------------------------------------------------------------

@pytest.mark.timeout(900)
async def test_a_short_run_of_faults_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    await run(tmp_path, Plan(leads=800, rate=5, instances=1, outage_s=12, business_day_minutes=1.0))


@pytest.mark.chaos
@pytest.mark.timeout(3600)
async def test_ten_thousand_leads_through_every_fault_with_two_instances_of_each_consumer(tmp_path: Path) -> None:
    await run(tmp_path, Plan(leads=10_000, rate=40, instances=2, outage_s=30, business_day_minutes=3.0))
