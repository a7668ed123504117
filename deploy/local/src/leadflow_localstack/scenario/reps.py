"""The reps' day through the public APIs: each rep works his list (overdue first, as GET /v1/me/leads gives
it), follows up by phone or WeChat, visits when he sells in the field, lets some leads lie, releases some,
claims from his team's pool, and closes a few: accepted, converted, won or lost, and paid.

Who does what with a lead is decided by a hash of the run's seed, the lead and its owner: the same run
replayed does the same, and a lead handed to another rep gets another temper.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from leadflow_localstack.scenario.api import Platform
from leadflow_localstack.scenario.catalogue import PLACES, PRODUCTS
from leadflow_localstack.scenario.documents import Rep
from leadflow_localstack.scenario.tally import Tally

if TYPE_CHECKING:  # watch.py works with desks
    from leadflow_localstack.scenario.watch import RecycleWatch

NEGLECT = 0.15  # of a rep's leads: never touched, so their deadline lapses (回收)
RELEASE = 0.04  # given back to the pool with a reason (放弃)
CLOSES = {"A": 0.30, "B": 0.18, "C": 0.08, "D": 0.03}  # of worked leads, by grade: converted into a deal
WINS = 0.65  # of deals: won (the rest lost)
WORK_PER_TICK = 40  # leads a rep acts on between two looks at his list
CLAIMS_PER_TICK = 2
CLAIMS_PER_RUN = 12  # a rep's claims in one demo run: the pools' daily limits hold several runs a day
RELEASE_REASONS = ("no_answer", "no_budget", "not_decision_maker")
LOST_REASONS = ("price", "competitor", "no_budget")
CITY_POSITIONS = {p.city: (p.latitude, p.longitude) for p in PLACES}


def chance(seed: int, *parts: object) -> float:
    """A number in [0, 1) fixed by the run's seed and the parts."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def temper(seed: int, lead_id: str, owner: str, seq: int) -> str:
    """What this owner does with this lead: work it, neglect it, or release it."""
    x = chance(seed, "temper", lead_id, owner, seq)
    return "neglect" if x < NEGLECT else "release" if x < NEGLECT + RELEASE else "work"


def closes(seed: int, lead_id: str, grade: str | None) -> bool:
    return chance(seed, "close", lead_id) < CLOSES.get(grade or "D", 0.03)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class Desk:
    """One rep at work: his token, his pool, and what he has done with which lead."""

    rep: Rep
    token: str
    pool_id: str
    seed: int
    day: timedelta  # a business day, as pool counts it in the demo
    closed: set[str] = field(default_factory=set)  # leads he has taken to a deal (or tried to)
    claims_open: bool = True  # false once the pool says he reached a claim limit today
    claimed: int = 0
    refused: set[str] = field(default_factory=set)  # leads the pool would not let him claim: not tried again
    won_deals: dict[str, float] = field(default_factory=dict)  # deal → amount, for finance's first payment

    async def tick(self, api: Platform, tally: Tally, watch: RecycleWatch, busy: set[str]) -> None:
        acted = 0
        for lead in await api.my_leads(self.token):
            if acted >= WORK_PER_TICK:
                break
            if lead["lead_id"] not in busy:
                acted += await self.work(api, lead, tally, watch)
        if self.claims_open and self.claimed < CLAIMS_PER_RUN:
            await self.claim_some(api, tally)

    async def work(self, api: Platform, lead: dict[str, Any], tally: Tally, watch: RecycleWatch) -> int:
        """Act on one lead; 1 when a request was made."""
        lead_id, now = lead["lead_id"], datetime.now(UTC)
        mood = temper(self.seed, lead_id, self.rep.id, lead["ownership_seq"])
        if mood == "neglect":
            watch.note_neglected(lead, self.rep.id, tally)
            return 0
        if mood == "release" and lead["last_follow_up_at"] is None:
            return await self.release(api, lead, tally)
        if lead["last_follow_up_at"] is None or self._due_soon(lead, now):
            return await self.follow_up(api, lead, tally)
        if lead_id not in self.closed and lead.get("company_name") and closes(self.seed, lead_id, lead["grade"]):
            return await self.close(api, lead, tally)
        return 0

    def _due_soon(self, lead: dict[str, Any], now: datetime) -> bool:
        deadline = parse_time(lead.get("inactivity_deadline"))
        return deadline is not None and deadline - now < self.day / 2

    async def follow_up(self, api: Platform, lead: dict[str, Any], tally: Tally) -> int:
        visit = self.rep.field_sales and lead.get("city") in CITY_POSITIONS
        reply = await api.follow_up(lead["lead_id"], self.token, self._follow_up_body(lead, visit))
        if reply.status == 201:
            tally.follow_ups += 1
            tally.visits += visit
        return 1

    def _follow_up_body(self, lead: dict[str, Any], visit: bool) -> dict[str, Any]:
        rnd = random.Random(f"{self.seed}/{lead['lead_id']}/{lead.get('last_follow_up_at')}")
        if not visit:
            kind = rnd.choice(("call", "call", "wechat"))
            return {"type": kind, "outcome": rnd.choice(("connected", "interested", "callback")),
                    "note": "介绍产品，约了下周演示" if kind == "call" else "企业微信发送了方案"}
        latitude, longitude = CITY_POSITIONS[lead["city"]]
        # somewhere in town, a fresh fix each time (a position repeated to the metre is flagged 模拟定位)
        return {"type": "visit", "note": "上门拜访，见到了负责人", "outcome": "met",
                "location": {"latitude": latitude + rnd.uniform(-0.05, 0.05),
                             "longitude": longitude + rnd.uniform(-0.05, 0.05), "accuracy_m": rnd.randint(5, 40)}}

    async def release(self, api: Platform, lead: dict[str, Any], tally: Tally) -> int:
        reason = RELEASE_REASONS[int(chance(self.seed, "reason", lead["lead_id"]) * len(RELEASE_REASONS))]
        reply = await api.release(lead["lead_id"], self.token, reason, "电话沟通后放弃")
        tally.releases += reply.status == 200
        return 1

    async def claim_some(self, api: Platform, tally: Tally) -> None:
        """领取: a couple of the best leads waiting in his team's pool; the others reaching for the same lead
        make some of these races, which exactly one rep wins."""
        waiting = [lead for lead in await api.waiting_in(self.pool_id, self.token, limit=100)
                   if self.rep.id not in lead["previous_owner_ids"]  # his own old leads: in their cooldown
                   and lead["lead_id"] not in self.refused]
        rnd = random.Random(f"{self.seed}/{self.rep.id}/{datetime.now(UTC).timestamp():.0f}")
        best = waiting[:20]  # the pool's best, as sorted by score: the ones everybody reaches for
        for lead in rnd.sample(best, min(CLAIMS_PER_TICK, len(best))):
            reply = await api.claim(lead["lead_id"], self.token)
            if reply.status == 200:
                tally.claims += 1
                self.claimed += 1
                continue
            code = (reply.data or {}).get("code", str(reply.status))
            tally.claim_refusals[code] += 1
            self.refused.add(lead["lead_id"])
            if code in ("daily_limit", "holding_limit"):
                self.claims_open = False
                return

    async def close(self, api: Platform, lead: dict[str, Any], tally: Tally) -> int:
        """销售认可 → 线索转商机 → 方案呈现 → 商务谈判 → won with a contract and paid, or lost."""
        lead_id = lead["lead_id"]
        accepted = await api.accept(lead_id, self.token)
        if accepted.status in (403, 404):  # opportunity has not heard yet that he holds it: next time
            return 1
        self.closed.add(lead_id)
        tally.accepted += accepted.status == 200
        conversion = self._conversion(lead)
        converted = await api.convert(lead_id, self.token, conversion)
        if converted.status != 201:
            return 1
        tally.converted += 1
        await self.settle(api, str(converted.data["opportunity_id"]), lead_id,
                          float(conversion["opportunity"]["amount"]), tally)
        return 1

    def _conversion(self, lead: dict[str, Any]) -> dict[str, Any]:
        amount = 20_000 + int(chance(self.seed, "amount", lead["lead_id"]) * 48) * 10_000
        product = PRODUCTS[int(chance(self.seed, "product", lead["lead_id"]) * len(PRODUCTS))]
        return {"contact": {"title": "采购负责人"},
                "opportunity": {"name": f"{product} 年度合同", "amount": amount, "product_line": "crm",
                                "expected_close": (date.today() + timedelta(days=60)).isoformat()}}

    async def settle(self, api: Platform, deal: str, lead_id: str, amount: float, tally: Tally) -> None:
        for stage in ("proposal", "negotiation"):
            await api.move(deal, self.token, {"to": stage})
        if chance(self.seed, "win", lead_id) >= WINS:
            reason = LOST_REASONS[int(chance(self.seed, "lost", lead_id) * len(LOST_REASONS))]
            await api.move(deal, self.token, {"to": "lost", "lost_reason": reason})
            tally.lost += 1
            return
        await api.move(deal, self.token, {"to": "won", "contract_ref": f"HT-DEMO-{deal[:8]}"})
        tally.won += 1
        self.won_deals[deal] = amount


async def record_payments(api: Platform, finance: str, desks: list[Desk], tally: Tally, paid: set[str]) -> None:
    """Finance records each won deal's first payment (首付款): the deal is realized, the sale counts."""
    for desk in desks:
        for deal, deal_amount in desk.won_deals.items():
            if deal in paid:
                continue
            amount = round(deal_amount * (0.3 + 0.7 * chance(desk.seed, "paid", deal)), 2)
            await api.pay(finance, {"payment_id": f"demo-{deal}", "opportunity_id": deal, "amount": amount,
                                    "received_at": datetime.now(UTC).isoformat()})
            paid.add(deal)
            tally.paid += 1
            tally.paid_amount += amount
