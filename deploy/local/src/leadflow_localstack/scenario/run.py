"""The scenario from start to end: the platform up, the documents and keys, thousands of leads and their
behaviour, the routing, the reps' day while deadlines lapse in minutes, and the report. Each stage that does
not happen fails the run with what did not, and where to look."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from leadflow_localstack import services as services_mod
from leadflow_localstack.scenario.api import Platform, ScenarioFailed
from leadflow_localstack.scenario.documents import Cast, read_cast
from leadflow_localstack.scenario.leads import Plan, generate
from leadflow_localstack.scenario.report import print_report
from leadflow_localstack.scenario.reps import Desk, parse_time, record_payments
from leadflow_localstack.scenario.setup import Keys, Tokens, load_and_make_keys, staff_tokens, start_platform
from leadflow_localstack.scenario.submit import count_warmed, post_early_activities, post_leads, warm_up
from leadflow_localstack.scenario.tally import WORK_STAGES, Stage, Tally, fail_unless, missing
from leadflow_localstack.scenario.watch import Handovers, RecycleWatch, pick_pair

CHINA = ZoneInfo("Asia/Shanghai")
ROUTING_WAIT_S = 120.0  # for scoring and assignment to take a few thousand leads
TICK_S = 2.0  # between two looks of the reps at their lists


class Scenario:
    def __init__(self, console: Console, services: dict[str, Any], cast: Cast, keys: Keys, tokens: Tokens,
                 plan: Plan, day: timedelta) -> None:
        self.console, self.services, self.cast, self.keys, self.tokens = console, services, cast, keys, tokens
        self.plan, self.day = plan, day
        self.api = Platform({name: services_mod.service_url(s) for name, s in services.items()})
        self.tally = Tally()
        self.started = datetime.now(UTC)
        self.watch = RecycleWatch()
        self.lead_ids: dict[int, str] = {}  # person → his lead, once intake took it
        self.busy: set[str] = set()  # leads the staged handovers are moving: the reps' desks leave them be
        self.announced: set[str] = set()

    async def play(self, wait: timedelta) -> None:
        try:
            with _progress(self.console) as progress:
                await self.post(progress)
                await self.await_routing(progress)
                handovers = await self.work_day(progress, wait)
            await print_report(self.console, self.api, self.cast, self.keys, self.tokens, self.tally, self.watch,
                               handovers, self.services, self.started, len(self.plan.submissions))
        finally:
            await self.api.close()

    # ---- leads in -------------------------------------------------------------------------------------

    async def post(self, progress: Progress) -> None:
        await post_early_activities(self.api, self.keys, self.plan, self.tally)
        task = progress.add_task("partners post leads (POST /v1/leads/batch)", total=len(self.plan.submissions))
        self.lead_ids = await post_leads(self.api, self.keys, self.plan, self.tally,
                                         lambda n: progress.advance(task, n))
        fail_unless(self.tally.outcomes["created"] > 0, "intake creating leads", "intake's log (.local/logs/intake.log)")
        fail_unless(self.tally.outcomes["merged"] > 0, "intake merging the re-posted people",
                    "intake's log, and `leadflow intake dedupe-eval`")
        self.announce(f"intake: {self.tally.outcomes['created']:,} created, {self.tally.outcomes['merged']:,} "
                      f"merged, {self.tally.outcomes['flagged']} flagged, {self.tally.outcomes['rejected']} rejected")

    async def await_routing(self, progress: Progress) -> None:
        """Scoring qualifies, assignment routes: leads reach reps and pools."""
        task = progress.add_task("scoring and assignment route the leads", total=None)
        deadline = time.monotonic() + ROUTING_WAIT_S
        while time.monotonic() < deadline:
            funnel = await self.api.funnel(self.tokens.admin, self.keys.partner_ids())
            mql = funnel["steps"][1]["count"]
            self.tally.held_by_reps, self.tally.waiting_in_pools = await self.routed()
            progress.update(task, description=f"scoring and assignment route the leads: MQL {mql} · held by reps "
                                              f"{self.tally.held_by_reps} · waiting in pools "
                                              f"{self.tally.waiting_in_pools}")
            if mql and self.tally.held_by_reps and self.tally.waiting_in_pools:
                break
            await asyncio.sleep(2)
        fail_unless(mql > 0, "scoring qualifying leads (MQL)", "scoring's log (.local/logs/scoring.log)")
        fail_unless(self.tally.held_by_reps > 0, "assignment giving leads to reps",
                    "assignment's log, and GET :8003/v1/reps (are the reps at their caps?)")
        fail_unless(self.tally.waiting_in_pools > 0, "cold leads waiting in the pools",
                    "assignment's decisions (GET :8003/v1/leads/<id>/assignment) and pool's log")
        progress.update(task, total=1, completed=1)
        self.announce(f"routed: MQL {mql}, held by reps {self.tally.held_by_reps}, waiting in pools "
                      f"{self.tally.waiting_in_pools}")
        await self.check_day_length()

    async def routed(self) -> tuple[int, int]:
        """This run's leads held by reps, and waiting in the pools (the platform may hold earlier runs' too)."""
        held = 0
        for rep in self.cast.reps:
            leads = await self.api.my_leads(self.tokens.reps[rep.id])
            held += sum(1 for lead in leads if (parse_time(lead["received_at"]) or self.started) >= self.started)
        waiting = 0
        for pool in sorted(set(self.cast.pools.values())):
            waiting += len(await self.api.waiting_in(pool, self.tokens.admin, 500, received_since=self.started))
        return held, waiting

    async def check_day_length(self) -> None:
        """Pool must count business days in minutes, or no deadline lapses while the demo runs."""
        for rep in self.cast.reps:
            for lead in await self.api.my_leads(self.tokens.reps[rep.id]):
                since, first = parse_time(lead["owner_since"]), parse_time(lead["first_follow_up_deadline"])
                if since and first:
                    fail_unless(first - since < timedelta(hours=1), "pool counting business days in minutes",
                                "pool's settings: restart it with `leadflow services down pool` and run the demo again")
                    return

    # ---- the reps' day --------------------------------------------------------------------------------

    async def work_day(self, progress: Progress, wait: timedelta) -> Handovers:
        """Rounds of the reps' work until every stage has happened (and two business days have passed, so that
        every first follow-up deadline lapsed for the leads nobody touched), or `wait` is up."""
        desks = [Desk(rep, self.tokens.reps[rep.id], self.cast.pools[rep.team], self.plan.seed, self.day)
                 for rep in self.cast.reps]
        handovers = await self.stage_collusion(desks)
        warming = await warm_up(self.api, self.keys, self.plan, self.lead_ids, self.tally)
        task = progress.add_task("reps at work", total=len(WORK_STAGES))
        paid: set[str] = set()
        at_least = time.monotonic() + 2 * self.day.total_seconds() + 20
        deadline = time.monotonic() + wait.total_seconds()
        while missing(self.tally) or time.monotonic() < at_least:
            if missing(self.tally) and time.monotonic() > deadline:
                names = "; ".join(f"{s.name} (look at {s.hint})" for s in missing(self.tally))
                raise ScenarioFailed(f"within {wait.total_seconds() / 60:g} minutes of the reps' work these did "
                                     f"not happen: {names}")
            await self.work_round(desks, handovers, warming, paid)
            progress.update(task, completed=len(WORK_STAGES) - len(missing(self.tally)),
                            description=f"reps at work: {self.tally.line()}")
            await asyncio.sleep(TICK_S)
        return handovers

    async def stage_collusion(self, desks: list[Desk]) -> Handovers:
        """The pair that will hand leads over: one not flagged yet (flags outlive a run)."""
        flagged = await self.api.collusion(self.tokens.admin, datetime(2000, 1, 1, tzinfo=UTC))
        dropper, taker = pick_pair(desks, flagged, set(self.cast.blocking_pools))
        return Handovers(dropper, taker, blocks=dropper.pool_id in self.cast.blocking_pools)

    async def work_round(self, desks: list[Desk], handovers: Handovers, warming: list[str], paid: set[str]) -> None:
        await asyncio.gather(*(desk.tick(self.api, self.tally, self.watch, self.busy) for desk in desks))
        await handovers.step(self.api, self.tally, self.busy)
        await record_payments(self.api, self.tokens.finance, desks, self.tally, paid)
        await self.watch.look(self.api, self.tokens.admin, self.tally)
        await count_warmed(self.api, self.tokens.admin, warming, self.tally)
        self.tally.collusion_flags = len(await self.api.collusion(self.tokens.admin, self.started))
        self.announce_stages(WORK_STAGES)

    def announce_stages(self, stages: tuple[Stage, ...]) -> None:
        for stage in stages:
            if stage.done(self.tally) and stage.name not in self.announced:
                self.announced.add(stage.name)
                self.announce(stage.name)

    def announce(self, text: str) -> None:
        elapsed = datetime.now(UTC) - self.started
        self.console.print(f"[green]✓[/] {text} [dim](+{int(elapsed.total_seconds())}s)[/]")


def _progress(console: Console) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def run(console: Console, leads: int, seed: int, day_minutes: float, wait_minutes: float) -> None:
    """The whole scenario; ScenarioFailed (or StackError) when a stage does not happen."""
    started = time.monotonic()
    services = start_platform(day_minutes)
    cast = read_cast()
    run_tag = datetime.now(CHINA).strftime("%m%d-%H%M%S")
    with console.status("loading the demo's documents, making its partners' keys (leadflow org|rules|pools load, "
                        "partners create, scoring keys create)"):
        keys = load_and_make_keys(run_tag)
    console.print(f"[green]✓[/] documents loaded from deploy/local/demo/; partners "
                  f"{', '.join(pid for pid in keys.partner_ids())}")
    plan = generate(leads, seed, cast.referrers())
    console.print(f"{len(plan.submissions):,} submissions of {len(plan.persons):,} people (seed {seed}; "
                  f"`leadflow demo --seed {seed}` makes the same), a business day lasts {day_minutes:g} min")
    accounts = asyncio.run(console_accounts(cast))
    scenario = Scenario(console, services, cast, keys, staff_tokens(cast), plan, timedelta(minutes=day_minutes))
    asyncio.run(scenario.play(timedelta(minutes=wait_minutes)))
    if "console" in services:
        console.print(f"[bold]the console[/] {services_mod.service_url(services['console'])}: sign in as a manager "
                      f"({accounts[0]}) or a rep ({accounts[1]}), password {DEMO_PASSWORD}")
    console.print(f"the demo took {time.monotonic() - started:.0f} s")


DEMO_PASSWORD = "leadflow-demo"


async def console_accounts(cast: Cast) -> tuple[str, str]:
    """Console sign-ins for the demo's managers and reps (`leadflow console account-set` makes them so)."""
    from leadflow_console.cli import set_account

    for team, manager in cast.managers.items():
        await set_account(manager, ["manager"], [team], DEMO_PASSWORD, name=manager)
    for rep in cast.reps:
        await set_account(rep.id, ["rep"], [rep.team], DEMO_PASSWORD, name=rep.name)
    return next(iter(cast.managers.values())), cast.reps[0].id
