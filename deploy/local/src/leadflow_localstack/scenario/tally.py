"""What the scenario has seen happen, counted as it goes, and the stages it must see: a stage that does not
happen fails the demo, naming it and where to look."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from leadflow_localstack.scenario.api import ScenarioFailed


@dataclass
class Tally:
    # intake: outcomes of the submissions, and the duplicates' variants that were merged
    outcomes: Counter[str] = field(default_factory=Counter)
    merged_variants: Counter[str] = field(default_factory=Counter)
    activities: int = 0
    warming_posted: int = 0
    warmed: int = 0  # nurtured leads the behaviour made MQLs
    # routing, as the managers' reports show it
    held_by_reps: int = 0  # this run's leads, as GET /v1/me/leads shows them
    waiting_in_pools: int = 0
    # the reps' work
    follow_ups: int = 0
    visits: int = 0
    claims: int = 0
    claim_refusals: Counter[str] = field(default_factory=Counter)  # 409/403 codes: races, limits, cooldown…
    releases: int = 0
    accepted: int = 0
    converted: int = 0
    won: int = 0
    lost: int = 0
    paid: int = 0
    paid_amount: float = 0.0
    # deadlines and their watchers
    neglected: int = 0
    recycled: int = 0
    reassigned: int = 0
    handovers: int = 0  # a release straight into a colleague's claim
    collusion_flags: int = 0
    blocked_claims: int = 0

    def line(self) -> str:
        return (f"跟进 {self.follow_ups} 拜访 {self.visits} 领取 {self.claims} 放弃 {self.releases} "
                f"转化 {self.converted} 赢单 {self.won} 回款 {self.paid} 回收 {self.recycled}→{self.reassigned} "
                f"串通 {self.collusion_flags}")


@dataclass(frozen=True)
class Stage:
    name: str
    done: Callable[[Tally], bool]
    hint: str  # where to look when it does not happen


# the stages the reps' day must show, in the order they usually come
WORK_STAGES = (
    Stage("reps followed up their leads (跟进)", lambda t: t.follow_ups > 0, "pool's log (.local/logs/pool.log)"),
    Stage("field reps visited customers (拜访签到)", lambda t: t.visits > 0, "pool's log"),
    Stage("reps claimed leads from the pools (领取)", lambda t: t.claims > 0,
          "GET :8004/v1/pools (are leads waiting?), pool's log"),
    Stage("reps released leads (放弃)", lambda t: t.releases > 0, "pool's log"),
    Stage("nurtured leads warmed into MQLs (养鱼)", lambda t: t.warmed > 0,
          "scoring's log (.local/logs/scoring.log): are leads.activity.v1 applied?"),
    Stage("leads converted into opportunities (线索转商机)", lambda t: t.converted > 0, "opportunity's log"),
    Stage("deals won (赢单)", lambda t: t.won > 0, "opportunity's log"),
    Stage("won deals paid (回款)", lambda t: t.paid > 0, "opportunity's log"),
    Stage("neglected leads recycled when their deadline lapsed (回收)", lambda t: t.recycled > 0,
          "the Temporal UI (ownership-<lead>-<n> workflows), pool's log"),
    Stage("recycled leads assigned again (二次分配)", lambda t: t.reassigned > 0,
          "assignment's log (.local/logs/assignment.log): is leads.recycled.v1 consumed?"),
    Stage("a rep dropping leads to one colleague flagged (串通)", lambda t: t.collusion_flags > 0,
          "GET :8004/v1/reports/collusion, pool's log"),
)


def missing(tally: Tally, stages: tuple[Stage, ...] = WORK_STAGES) -> list[Stage]:
    return [s for s in stages if not s.done(tally)]


def fail_unless(done: bool, what: str, hint: str) -> None:
    if not done:
        raise ScenarioFailed(f"{what} did not happen; look at {hint}")
