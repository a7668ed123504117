"""The demo's leads: people and companies from Faker (zh_CN) of mixed quality, each posted by a channel partner
or the company's own channels, some posted again (the same person by another partner, with a typo in the
company's name, the mobile written another way), and the behaviour some of them show.

Pure: the same seed gives the same plan, so a run can be replayed (`leadflow demo --seed N`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from faker import Faker

from leadflow_localstack.scenario.catalogue import (
    BANT_NEGATIVE,
    BANT_POSITIVE,
    INDUSTRIES,
    JUNK_TITLES,
    OWN,
    PLACES,
    PRODUCTS,
    REP_REFERRED,
    SENDERS,
    TITLES,
    Place,
)

DUPLICATE_SHARE = 0.12  # of submissions: a person posted again
QUALITY_SHARES = (("qualified", 0.35), ("nurture", 0.56), ("junk", 0.05), ("invalid", 0.04))
HOT_SHARE = {"qualified": 0.30, "nurture": 0.05}  # showed buying behaviour before anyone posted them
WARMING_SHARE = 0.12  # of nurtured people: start showing it while the demo runs
BURST = 30  # leads one partner posts from one device in a minute (刷量): intake flags past its limit
BURST_MIN_LEADS = 500  # smaller runs leave the burst out
DUPLICATE_VARIANTS = ("another_partner", "company_typo", "mobile_format", "wechat_is_mobile", "email_only")


@dataclass(frozen=True)
class Company:
    name: str
    place: Place
    industry: str


@dataclass(frozen=True)
class Person:
    index: int
    name: str
    mobile: str  # 11 digits, or a broken number for an invalid lead
    email: str | None
    wechat: str | None
    company: Company | None
    place: Place  # the company's, or where a person without one lives
    title: str
    sender: str
    channel: str
    quality: str  # qualified | nurture | junk | invalid | burst
    hot: bool = False  # showed buying behaviour before he was posted
    warms: bool = False  # starts showing it while the demo runs
    referrer: str | None = None
    bant: dict[str, str] = field(default_factory=dict)
    product: str | None = None


@dataclass(frozen=True)
class Submission:
    sender: str
    person: int
    lead: dict[str, Any]  # as POST /v1/leads takes it
    duplicate: str | None = None  # how a re-post differs from the first one (DUPLICATE_VARIANTS)


@dataclass(frozen=True)
class Plan:
    seed: int
    persons: tuple[Person, ...]
    submissions: tuple[Submission, ...]

    def by_sender(self) -> dict[str, list[Submission]]:
        out: dict[str, list[Submission]] = {s.key: [] for s in SENDERS}
        for submission in self.submissions:
            out[submission.sender].append(submission)
        return out

    def person(self, index: int) -> Person:
        return self.persons[index]


def generate(count: int, seed: int, referrers: Mapping[str, Sequence[str]]) -> Plan:
    """`count` submissions; `referrers`: the reps of each region (catalogue.EAST, SOUTH), who referred or
    found the leads of the channels in REP_REFERRED."""
    faker = Faker("zh_CN")
    faker.seed_instance(seed)
    rnd = random.Random(seed)
    originals = count - round(count * DUPLICATE_SHARE) if count > 1 else count
    companies = _companies(faker, rnd, max(20, originals // 3))
    burst = BURST if count >= BURST_MIN_LEADS else 0
    persons = [_person(faker, rnd, i, companies, referrers, burst=i < burst) for i in range(originals)]
    firsts = [Submission(p.sender, p.index, _lead(p, rnd)) for p in persons]
    repeats = _duplicates(rnd, persons, firsts, count - originals)
    rnd.shuffle(firsts)
    return Plan(seed, tuple(persons), tuple(firsts + repeats))


# ---- people and companies ---------------------------------------------------------------------------

def _weighted(rnd: random.Random, pairs: Sequence[tuple[Any, float]]) -> Any:
    return rnd.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _companies(faker: Faker, rnd: random.Random, n: int) -> list[Company]:
    """Companies named as the registry writes them (city + core + legal form): about three leads each."""
    made: dict[str, Company] = {}
    while len(made) < n:
        place = _weighted(rnd, [(p, p.weight) for p in PLACES])
        name = f"{place.city}{faker.company_prefix()}{faker.company_suffix()}"
        made.setdefault(name, Company(name, place, _weighted(rnd, INDUSTRIES)))
    return list(made.values())


def _person(faker: Faker, rnd: random.Random, index: int, companies: Sequence[Company],
            referrers: Mapping[str, Sequence[str]], *, burst: bool) -> Person:
    quality = "burst" if burst else _weighted(rnd, QUALITY_SHARES)
    sender = SENDERS[0] if burst else _weighted(rnd, [(s, s.share) for s in SENDERS])
    company = None if quality == "nurture" and rnd.random() < 0.08 else rnd.choice(
        [c for c in companies if c.place.region in sender.regions])
    place = company.place if company else _weighted(rnd, [(p, p.weight) for p in PLACES
                                                          if p.region in sender.regions])
    channel = _weighted(rnd, sender.channels)
    hot = rnd.random() < HOT_SHARE.get(quality, 0)
    reachable = quality != "invalid"
    return Person(
        index=index, name=faker.name(), mobile=_mobile(faker, quality), sender=sender.key, channel=channel,
        email=_email(faker, rnd, company) if reachable and rnd.random() < 0.4 else None,
        wechat=_wechat(faker, rnd) if reachable and rnd.random() < 0.2 else None,
        company=company, place=place, title=_title(faker, rnd, quality), quality=quality, hot=hot,
        warms=quality == "nurture" and not hot and rnd.random() < WARMING_SHARE,
        referrer=rnd.choice(referrers[place.region]) if channel in REP_REFERRED and referrers.get(place.region)
        else None,
        bant=_bant(rnd, quality), product=rnd.choice(PRODUCTS) if rnd.random() < 0.6 else None,
    )


def _wechat(faker: Faker, rnd: random.Random) -> str:
    """A WeChat id as WeChat allows it: a letter first, 6 to 20 letters, digits, _ or -."""
    return f"wx_{faker.user_name()}{rnd.randint(10, 99)}"[:20]


def _email(faker: Faker, rnd: random.Random, company: Company | None) -> str:
    return faker.company_email() if company and rnd.random() < 0.6 else faker.free_email()


def _mobile(faker: Faker, quality: str) -> str:
    number = faker.phone_number()
    return number[:7] if quality == "invalid" else number  # seven digits: no such mobile, nothing to reach


def _title(faker: Faker, rnd: random.Random, quality: str) -> str:
    if quality == "junk" and rnd.random() < 0.7:
        return rnd.choice(JUNK_TITLES)  # not a buyer: scoring disqualifies
    title = _weighted(rnd, TITLES)
    return title or faker.job()


def _bant(rnd: random.Random, quality: str) -> dict[str, str]:
    """Qualified: two to four positive answers (scoring makes it an MQL); nurture: none, or one with doubts."""
    keys = list(BANT_POSITIVE)
    if quality == "qualified":
        chosen = rnd.sample(keys, rnd.randint(2, 4))
        return {k: rnd.choice(BANT_POSITIVE[k]) for k in chosen}
    if quality == "nurture" and rnd.random() < 0.4:
        positive = rnd.choice(keys)
        answers = {k: rnd.choice(v) for k, v in BANT_NEGATIVE.items() if k != positive and rnd.random() < 0.6}
        return {**answers, positive: rnd.choice(BANT_POSITIVE[positive])}
    return {}


# ---- what is posted ----------------------------------------------------------------------------------

CAMPAIGNS = {"offline_event": "2026-12 深圳 CIO 峰会", "paid_ads": "baidu-sem-crm", "website": "官网-免费试用表单",
             "wechat_official_account": "公众号-白皮书下载", "channel_partner": "2026-q4 渠道推广"}


def _lead(person: Person, rnd: random.Random) -> dict[str, Any]:
    place = person.place
    lead: dict[str, Any] = {
        "name": person.name, "mobile": _written(person.mobile, rnd, plain=0.7), "title": person.title,
        "province": place.province, "city": place.city, "source": person.channel,
    }
    optional = {
        "email": person.email, "wechat": person.wechat, "company_name": person.company and person.company.name,
        "industry": person.company and person.company.industry, "campaign": CAMPAIGNS.get(person.channel),
        "referrer": person.referrer, "product_interest": person.product, "bant": person.bant or None,
    }
    lead.update({k: v for k, v in optional.items() if v})
    if person.quality == "junk" and person.title not in JUNK_TITLES:
        lead["consent"] = {"do_not_call": True, "do_not_email": True}  # 勿扰: scoring disqualifies
    if person.quality == "burst":
        lead.update(client_ip="203.0.113.77", device_id="dev-burst-0001")
    return lead


def _written(mobile: str, rnd: random.Random, *, plain: float = 0.0, avoid: str | None = None) -> str:
    """A mobile as people write it: 13800138000, 138-0013-8000, +86 138 0013 8000, 0086 13800138000…"""
    if len(mobile) != 11:
        return mobile
    forms = [mobile, f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}", f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}",
             f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}", f"0086 {mobile}", f"+86-{mobile}"]
    if rnd.random() < plain:
        return mobile
    choices = [f for f in forms if f != avoid] or forms
    return rnd.choice(choices)


def _duplicates(rnd: random.Random, persons: Sequence[Person], firsts: Sequence[Submission],
                n: int) -> list[Submission]:
    """People posted again: each variant is one intake must see through to the same person."""
    first_of = {s.person: s for s in firsts}
    reachable = [p for p in persons if p.quality in ("qualified", "nurture")]
    repeats = []
    for i in range(n if reachable else 0):
        person = rnd.choice(reachable)
        variant = DUPLICATE_VARIANTS[i % len(DUPLICATE_VARIANTS)]
        if variant == "email_only" and not person.email:
            variant = "mobile_format"
        repeats.append(_repeat(rnd, person, first_of[person.index], variant))
    rnd.shuffle(repeats)
    return repeats


def _repeat(rnd: random.Random, person: Person, first: Submission, variant: str) -> Submission:
    """The first posting again, changed the way the variant says."""
    lead = dict(first.lead)
    sender = first.sender
    if variant in ("another_partner", "company_typo"):
        sender = rnd.choice([s.key for s in SENDERS if s.key != first.sender and person.place.region in s.regions])
        lead["source"] = "channel_partner" if sender != OWN else "website"
        lead.pop("referrer", None)  # the other poster knows nothing of who referred him
        lead["campaign"] = CAMPAIGNS[lead["source"]]
    if variant == "company_typo" and person.company:
        lead["company_name"] = typo(person.company.name, rnd)
    if variant in ("another_partner", "company_typo", "mobile_format"):
        lead["mobile"] = _written(person.mobile, rnd, avoid=first.lead["mobile"])
    if variant == "wechat_is_mobile":  # 微信号就是手机号
        lead.pop("mobile")
        lead.pop("email", None)
        lead["wechat"] = person.mobile
    if variant == "email_only":
        lead.pop("mobile")
        lead.pop("wechat", None)
        lead["email"] = str(person.email).upper()
    return Submission(sender, person.index, lead, variant)


_LOOK_ALIKES = {"科": "料", "技": "枝", "信": "言", "息": "自", "网": "冈", "络": "洛", "传": "专", "媒": "煤",
                "华": "化", "达": "大", "通": "同", "天": "夭", "海": "梅", "新": "亲", "金": "全"}


def typo(name: str, rnd: random.Random) -> str:
    """One character of the name's core written as a look-alike (a slip of the keyboard or the eye)."""
    positions = [i for i, ch in enumerate(name) if ch in _LOOK_ALIKES] or [len(name) // 2]
    i = rnd.choice(positions)
    return name[:i] + _LOOK_ALIKES.get(name[i], "昌") + name[i + 1:]


# ---- behaviour --------------------------------------------------------------------------------------

def early_activities(plan: Plan, now: datetime) -> list[dict[str, Any]]:
    """What hot people did on the website before anyone posted them, named by their mobile: scoring keeps it
    until their lead arrives, and counts it in the first score."""
    out = []
    for person in plan.persons:
        if person.hot and len(person.mobile) == 11:
            out += _buying_signals(person.index, plan.seed, {"mobile": person.mobile}, now - timedelta(hours=3),
                                   trial=person.index % 2 == 0)
    return out


def warming_activities(person: Person, lead_id: str, seed: int, now: datetime) -> list[dict[str, Any]]:
    """A nurtured lead warming up while the demo runs (养鱼): the score crosses the MQL line."""
    return _buying_signals(person.index, seed, {"lead_id": lead_id}, now, trial=True)


def _buying_signals(index: int, seed: int, who: dict[str, str], at: datetime, *, trial: bool) -> list[dict[str, Any]]:
    # activity ids derived from the run and the person: a retried post records nothing twice
    def one(n: int, kind: str, url: str | None = None, minutes: int = 0) -> dict[str, Any]:
        item = {**who, "activity_id": _activity_id(seed, index, n), "type": kind,
                "occurred_at": (at + timedelta(minutes=minutes)).isoformat()}
        return item | ({"url": url} if url else {})

    signals = [one(0, "page_view", "https://leadflow.example.cn/pricing"),
               one(1, "page_view", "https://leadflow.example.cn/pricing?plan=enterprise", 2),
               one(2, "demo_request", minutes=5), one(3, "wechat_friend_added", minutes=9)]
    return signals + ([one(4, "trial_signup", minutes=12)] if trial else [])


def _activity_id(seed: int, index: int, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"leadflow-demo/{seed}/{index}/{n}"))
