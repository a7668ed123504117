"""Watching what deadlines and colleagues do to leads: the neglected ones recycled (回收) and assigned again
(二次分配), read from each lead's timeline; a rep handing leads to one colleague over and over (串通), until
pool's collusion report flags the pair.

Pool has no report of recycles: the demo reads the timelines of the leads its reps neglected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadflow_localstack.scenario.api import Platform, ScenarioFailed
from leadflow_localstack.scenario.reps import Desk, parse_time
from leadflow_localstack.scenario.tally import Tally

RECYCLE_CHECKS = 25  # timelines read per look


@dataclass(frozen=True)
class Neglect:
    lead_id: str
    rep: str
    seq: int
    deadline: datetime | None


@dataclass(frozen=True)
class Recycle:
    lead_id: str
    from_rep: str
    reason: str
    to_rep: str | None  # None: it waits in a pool


@dataclass
class RecycleWatch:
    pending: dict[tuple[str, int], Neglect] = field(default_factory=dict)
    recycled: dict[tuple[str, int], Recycle] = field(default_factory=dict)

    def note_neglected(self, lead: dict[str, Any], rep: str, tally: Tally) -> None:
        key = (lead["lead_id"], lead["ownership_seq"])
        if key not in self.pending and key not in self.recycled:
            self.pending[key] = Neglect(lead["lead_id"], rep, lead["ownership_seq"], parse_time(lead["next_deadline"]))
            tally.neglected += 1

    async def look(self, api: Platform, admin: str, tally: Tally) -> None:
        now = datetime.now(UTC)
        due = [n for n in self.pending.values() if n.deadline is None or n.deadline < now][:RECYCLE_CHECKS]
        for neglect in due:
            await self._read(api, admin, neglect, tally)
            key = (neglect.lead_id, neglect.seq)
            if key in self.pending:
                self.pending[key] = self.pending.pop(key)  # to the back of the queue: the others' turn first

    async def _read(self, api: Platform, admin: str, neglect: Neglect, tally: Tally) -> None:
        entries = await api.timeline(neglect.lead_id, admin)  # newest first
        at = next((i for i, e in enumerate(entries) if e["kind"] == "recycled"
                   and (e.get("detail") or {}).get("seq") == neglect.seq), None)
        if at is None:
            return
        key = (neglect.lead_id, neglect.seq)
        if key not in self.recycled:
            tally.recycled += 1
        later = entries[:at]
        again = next((e for e in reversed(later) if e["kind"] == "assigned"
                      and (e.get("detail") or {}).get("kind") == "reassign"), None)
        reason = str((entries[at].get("detail") or {}).get("reason", ""))
        self.recycled[key] = Recycle(neglect.lead_id, neglect.rep, reason, again and again["owner_id"])
        if again is not None:
            tally.reassigned += 1
        if again is not None or any(e["kind"] in ("pooled", "claimed") for e in later):
            del self.pending[key]  # settled: with another rep, or waiting in a pool


@dataclass
class Handovers:
    """One rep releases leads and the same colleague claims each straight away: after a few such handovers
    pool's collusion watch flags the pair; where the pool blocks flagged pairs, one more drop shows the
    colleague's claim refused."""

    dropper: Desk
    taker: Desk
    blocks: bool  # the pair's pool refuses claims by flagged pairs
    needed: int = 3  # pool flags a pair at three handovers (LEADFLOW_COLLUSION_MIN_HANDOVERS)
    done: int = 0
    finished: bool = False
    leads: list[str] = field(default_factory=list)

    async def step(self, api: Platform, tally: Tally, busy: set[str]) -> None:
        if self.finished or (self.done >= self.needed and not tally.collusion_flags):
            return  # enough handovers: the watch scans every few seconds
        if self.done >= self.needed and not self.blocks:
            self.finished = True
            return
        lead_id = await self._drop_one(api, tally, busy)
        if lead_id is None:
            return
        claimed = await api.claim(lead_id, self.taker.token)
        if claimed.status == 200:
            tally.claims += 1
            tally.handovers += 1
            self.done += 1
            self.leads.append(lead_id)
        elif (claimed.data or {}).get("code") == "collusion":
            tally.blocked_claims += 1
            self.finished = True

    async def _drop_one(self, api: Platform, tally: Tally, busy: set[str]) -> str | None:
        held = [lead for lead in await api.my_leads(self.dropper.token) if lead["lead_id"] not in busy]
        if not held:
            return None
        lead_id = held[-1]["lead_id"]  # the one with the furthest deadline: least likely to be in anyone's hands
        busy.add(lead_id)
        released = await api.release(lead_id, self.dropper.token, "not_decision_maker", "对方不是决策人")
        if released.status != 200:
            return None
        tally.releases += 1
        return lead_id


def pick_pair(desks: list[Desk], flagged: list[dict[str, Any]], blocking_pools: set[str]) -> tuple[Desk, Desk]:
    """Two reps of one pool not flagged together yet, from a pool that blocks flagged pairs when one has such a
    pair left (its refusal is part of the show), the lower tier dropping; else two of a pool that does not
    block, whose flag grows with each new handover."""
    known = {frozenset((f["released_by"], f["claimed_by"])) for f in flagged}
    pairs = [(a, b) for a in desks for b in desks if a is not b and a.pool_id == b.pool_id]
    fresh = [(a, b) for a, b in pairs if frozenset((a.rep.id, b.rep.id)) not in known]
    fresh.sort(key=lambda pair: (pair[0].pool_id not in blocking_pools, -pair[0].rep.tier))
    open_pairs = [(a, b) for a, b in pairs if a.pool_id not in blocking_pools]
    if not fresh and not open_pairs:
        raise ScenarioFailed("every pair of reps is flagged for collusion already and every pool blocks flagged "
                             "pairs: nothing new can be shown (GET :8004/v1/reports/collusion)")
    return (fresh or open_pairs)[0]
