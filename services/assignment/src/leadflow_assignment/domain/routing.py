"""Routing a lead (分配): the first rule whose conditions match decides, by its strategy, among the reps
who may take the lead now; what nobody can take falls to a pool with the reason, never into a void.

Pure: the caller hands in the organisation, the rule set, the reps' loads (locked for the transaction
in Postgres, so two processes never both fill a rep's last place) and the round-robin pointers; the
router updates loads and pointers as it decides, and explains every decision.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from leadflow_assignment.domain.org import Organisation, Rep, RepStatus, Team, place
from leadflow_assignment.domain.rules import Rule, RuleSet, Strategy

MAX_CANDIDATES_KEPT = 12  # an explanation names at most this many reps (the chosen one always); the rest are counted
GRADE_BAND = {"A": 0, "B": 1, "C": 2, "D": 2}


@dataclass(frozen=True)
class LeadFacts:
    """What routing reads of a lead: scoring's view, intake's (partner, account owner), and its history."""

    lead_id: uuid.UUID
    grade: str | None = None
    stage: str | None = None
    score: float | None = None
    probability: float | None = None
    channel: str | None = None
    partner_id: str | None = None
    industry: str | None = None
    province: str | None = None
    city: str | None = None
    company_size: int | None = None
    product_interest: str | None = None
    company_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    referrer: str | None = None
    cohort: str | None = None
    account_owner_id: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    recycled: bool = False
    previous_owners: tuple[str, ...] = ()
    qualified_by: str | None = None  # the SDR who qualified it: its hand-off to sales never goes back to him


@dataclass
class Load:
    """A rep's open leads and new leads today."""

    open: int = 0
    new_today: int = 0


class Loads(dict[str, Load]):
    """Loads by rep; `changed` are the reps whose load moved (what needs writing back)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.changed: set[str] = set()

    def of(self, rep_id: str) -> Load:
        load = self.get(rep_id)
        if load is None:
            load = self[rep_id] = Load()
        return load

    def take(self, rep_id: str) -> None:
        load = self.of(rep_id)
        load.open += 1
        load.new_today += 1
        self.changed.add(rep_id)

    def give_back(self, rep_id: str) -> None:
        load = self.of(rep_id)
        load.open = max(0, load.open - 1)
        self.changed.add(rep_id)

    def add_open(self, rep_id: str, delta: int) -> None:
        load = self.of(rep_id)
        load.open = max(0, load.open + delta)
        self.changed.add(rep_id)


def settle_loads(org: Organisation, read: dict[str, Load], decided: Loads, fresh: dict[str, Load]
                 ) -> dict[str, Load] | None:
    """The loads a transaction writes when it decided on loads read without a lock and has now locked the reps
    it changed (`fresh`): its own changes added to what other processes committed meanwhile. None when a rep it
    gave leads to would now be over a cap: the decisions must be made again, on locked loads."""
    settled: dict[str, Load] = {}
    for rep_id in sorted(decided.changed):
        before, mine, now = read.get(rep_id, Load()), decided.of(rep_id), fresh.get(rep_id, Load())
        opened, given = mine.open - before.open, mine.new_today - before.new_today
        load = Load(max(0, now.open + opened), max(0, now.new_today + given))
        if now != before and (opened > 0 or given > 0) and _over_cap(org.rep(rep_id), load):
            return None
        settled[rep_id] = load
    return settled


def _over_cap(rep: Rep | None, load: Load) -> bool:
    if rep is None:
        return False
    return ((rep.max_open_leads is not None and load.open > rep.max_open_leads)
            or (rep.max_new_per_day is not None and load.new_today > rep.max_new_per_day))


@dataclass(frozen=True)
class Candidate:
    rep_id: str
    passed: str | None  # why he was passed over; None: chosen

    def as_dict(self) -> dict[str, Any]:
        return {"rep_id": self.rep_id, "passed_over": self.passed}


@dataclass
class Decision:
    outcome: str  # assigned | pooled | queued
    rule: str
    reason: str
    rules_version: str = "0"
    strategy: str | None = None
    owner_id: str | None = None
    team_id: str | None = None
    pool_id: str | None = None
    queue: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    considered: int = 0  # reps the strategy looked at (the list above may be shortened)
    not_listed: dict[str, int] = field(default_factory=dict)  # passed over but not named, by reason
    skipped_rules: list[dict[str, str]] = field(default_factory=list)  # matched, but could not apply
    previous_owner_ids: tuple[str, ...] = ()

    def explanation(self) -> dict[str, Any]:
        explained: dict[str, Any] = {"candidates": [c.as_dict() for c in self.candidates], "considered": self.considered}
        if self.not_listed:
            explained["not_listed"] = self.not_listed
        if self.skipped_rules:
            explained["skipped_rules"] = self.skipped_rules
        return explained


class ConversionRates:
    """A rep's measured conversion per source channel, smoothed toward his team's rate for the channel
    (and the team's toward the whole company's), so that a new rep is not starved: with no history he
    counts as his team's average, and his own results weigh in as they come."""

    def __init__(self, counts: dict[tuple[str, str], tuple[int, int]], team_of: dict[str, str], *,
                 prior_weight: float = 20.0, base_rate: float = 0.1) -> None:
        self._counts = counts  # (rep, channel) -> (assigned, converted)
        self._prior_weight = prior_weight
        self._memo: dict[tuple[str, str, str], float] = {}
        teams: dict[tuple[str, str], list[int]] = {}
        overall: dict[str, list[int]] = {}
        for (rep, channel), (assigned, converted) in counts.items():
            for totals in (teams.setdefault((team_of.get(rep, ""), channel), [0, 0]),
                           overall.setdefault(channel, [0, 0])):
                totals[0] += assigned
                totals[1] += converted
        self._company = {c: _smooth(t[1], t[0], base_rate, prior_weight) for c, t in overall.items()}
        self._teams = {k: _smooth(t[1], t[0], self._company.get(k[1], base_rate), prior_weight)
                       for k, t in teams.items()}
        self._base_rate = base_rate

    def team_rate(self, team_id: str, channel: str) -> float:
        return self._teams.get((team_id, channel), self._company.get(channel, self._base_rate))

    def rate(self, rep_id: str, team_id: str, channel: str | None) -> float:
        key = (rep_id, team_id, channel or "other")
        rate = self._memo.get(key)
        if rate is None:  # counts are read once per refresh: a rate, once computed, holds until then
            assigned, converted = self._counts.get((rep_id, key[2]), (0, 0))
            rate = self._memo[key] = _smooth(converted, assigned, self.team_rate(team_id, key[2]), self._prior_weight)
        return rate


def _smooth(successes: int, trials: int, prior: float, weight: float) -> float:
    return (successes + prior * weight) / (trials + weight)


NO_RATES = ConversionRates({}, {})


class Router:
    """Decides where leads go under one organisation and rule set; keeps the round-robin pointers."""

    def __init__(self, org: Organisation, rules: RuleSet, *, default_pool: str, rates: ConversionRates = NO_RATES,
                 pointers: dict[str, str] | None = None) -> None:
        self.org = org
        self.rules = rules
        self.default_pool = default_pool
        self.rates = rates
        self.pointers = pointers if pointers is not None else {}
        self.moved_pointers: set[str] = set()
        index = _index(org)
        self._team_order, self._all_order, self._by_id = index.team_order, index.all_order, index.by_id
        self._by_city, self._by_province = index.by_city, index.by_province
        # Reps away or at a cap, and why: within a router's batch loads only grow, so they stay so (the
        # round robin of a team whose reps are mostly full then costs a look-up a rep).
        self._unavailable: dict[str, str] = {}
        # Candidate lists of which every rep is unavailable, and what was said: a full team's next lead
        # falls to the pool at once.
        self._nobody_cache: dict[tuple[str, int], Decision] = {}
        self._screens: dict[int, tuple[list[Rep], list[Candidate]]] = {}

    def loads_fell(self) -> None:
        """Loads went down (a new day, leads given back): reps found full may have room again."""
        self._unavailable.clear()
        self._nobody_cache.clear()
        self._screens.clear()

    def decide(self, lead: LeadFacts, loads: Loads) -> Decision:
        skipped: list[dict[str, str]] = []
        decision = self._first_of(self.rules.rules, None, lead, loads, skipped)
        if decision is None:
            decision = Decision("pooled", "none", "no rule matched the lead", pool_id=self.default_pool)
        decision.rules_version = self.rules.version
        decision.skipped_rules = skipped
        decision.previous_owner_ids = lead.previous_owners
        if decision.owner_id:
            loads.take(decision.owner_id)
        return decision

    # ---- rules -----------------------------------------------------------------------------------

    def _first_of(self, rules: Sequence[Rule], team_scope: str | None, lead: LeadFacts, loads: Loads,
                  skipped: list[dict[str, str]]) -> Decision | None:
        for rule in rules:
            if not rule.when.match(lead):
                continue
            decision = self._apply(rule, team_scope, lead, loads, skipped)
            if decision is not None:
                return decision
        return None

    def _apply(self, rule: Rule, team_scope: str | None, lead: LeadFacts, loads: Loads,
               skipped: list[dict[str, str]]) -> Decision | None:
        team_id = rule.team or team_scope
        key = f"{team_scope}/{rule.id}" if team_scope else rule.id
        team = self.org.team(team_id) if team_id else None
        if team_id and team is None:
            return self._pooled(rule, key, None, lead, f"the rule's team {team_id!r} is not in the organisation")
        strategy = rule.strategy
        if strategy == Strategy.team:
            assert team is not None  # a team rule names its team (checked when loaded)
            decision = self._first_of(self.rules.teams.get(team.id, ()), team.id, lead, loads, skipped)
            return decision or Decision("pooled", key, f"no rule of team {team.id} matched the lead",
                                        strategy=strategy, team_id=team.id, pool_id=team.default_pool)
        if strategy == Strategy.pool:
            pool = rule.pool or (team.default_pool if team else self.default_pool)
            return Decision("pooled", key, rule.description or f"rule {key} sends it to pool {pool}",
                            strategy=strategy, team_id=team_id, pool_id=pool)
        if strategy == Strategy.manual:
            queue = rule.queue or (team.queue_name if team else "manual")
            return Decision("queued", key, rule.description or f"rule {key} leaves it to a manager",
                            strategy=strategy, team_id=team_id, queue=queue)
        excluded = _excluded(rule, lead)
        if strategy in (Strategy.referral_to_original_rep, Strategy.account_owner):
            named = lead.referrer if strategy == Strategy.referral_to_original_rep else lead.account_owner_id
            what = "referring rep" if strategy == Strategy.referral_to_original_rep else "account owner"
            return self._named(rule, key, team, lead, loads, named, what, excluded, skipped)
        if strategy == Strategy.cohort:
            return self._cohort(rule, key, team, lead, loads, skipped)
        return self._choose(rule, key, team, lead, loads, excluded, skipped)

    # ---- strategies that name their rep ----------------------------------------------------------

    def _named(self, rule: Rule, key: str, team: Team | None, lead: LeadFacts, loads: Loads, rep_id: str | None,
               what: str, excluded: frozenset[str], skipped: list[dict[str, str]]) -> Decision | None:
        rep = self.org.rep(rep_id) if rep_id else None
        if rep is None:
            if rep_id:
                skipped.append({"rule": key, "why": f"the {what} {rep_id} is not a rep of the organisation"})
            return None  # no referrer / no owner known: the rule does not apply
        if rep.id in excluded or rep.status == RepStatus.gone:
            skipped.append({"rule": key, "why": f"the {what} {rep.id} " +
                            ("held the lead before" if rep.id in excluded else "has left")})
            return None
        why = self.why_not(rep, lead, loads, frozenset(), skills=False)
        if why is None:
            return self._assigned(rule, key, rep, f"the {what} is {rep.id}", [Candidate(rep.id, None)], 1)
        home = self.org.team(rep.team)
        return self._pooled(rule, key, home or team, lead, f"the {what} {rep.id} is {why}",
                            [Candidate(rep.id, why)], 1)

    def _cohort(self, rule: Rule, key: str, team: Team | None, lead: LeadFacts, loads: Loads,
                skipped: list[dict[str, str]]) -> Decision | None:
        if not lead.cohort:
            return None
        runners = [r for r in self._reps(team) if lead.cohort in r.cohorts and r.status != RepStatus.gone
                   and r.id != lead.qualified_by]
        if not runners:
            skipped.append({"rule": key, "why": f"no rep runs cohort {lead.cohort}"})
            return None
        rep = runners[0]
        # A cohort's lead stays with the rep who runs the cohort: a previous owner is not excluded.
        why = self.why_not(rep, lead, loads, frozenset(), skills=False)
        if why is None:
            return self._assigned(rule, key, rep, f"{rep.id} runs cohort {lead.cohort}", [Candidate(rep.id, None)], 1)
        return self._pooled(rule, key, self.org.team(rep.team) or team, lead,
                            f"{rep.id}, who runs cohort {lead.cohort}, is {why}", [Candidate(rep.id, why)], 1)

    # ---- strategies that choose among eligible reps ----------------------------------------------

    def _choose(self, rule: Rule, key: str, team: Team | None, lead: LeadFacts, loads: Loads,
                excluded: frozenset[str], skipped: list[dict[str, str]]) -> Decision | None:
        strategy = rule.strategy
        if strategy == Strategy.territory:
            reps, where = self._covering(team, lead)
            if not reps:
                skipped.append({"rule": key, "why": f"no rep covers {where or 'the lead (no province or city)'}"})
                return None
        else:
            reps = self._reps(team)
        if strategy == Strategy.round_robin:
            return self._round_robin(rule, key, team, lead, loads, excluded, reps)
        cache_key = (key, id(reps))
        if not excluded and cache_key in self._nobody_cache:
            return _copy(self._nobody_cache[cache_key])
        passed, eligible = self._screen(reps, lead, loads, excluded)
        if not eligible:
            decision = self._nobody(rule, key, team, lead, passed, len(reps))
            if not excluded and all(r.id in self._unavailable for r in reps):
                self._nobody_cache[cache_key] = _copy(decision)
            return decision
        if strategy == Strategy.weighted:
            rep, why = self._weighted(rule, lead, loads, eligible, team)
        else:  # least loaded; territory: the least loaded of the reps covering the lead's place
            rep = min(eligible, key=lambda r: (loads.of(r.id).open, loads.of(r.id).new_today, r.id))
            why = f"fewest open leads ({loads.of(rep.id).open})" + (f" among reps covering {where}"
                                                                      if strategy == Strategy.territory else "")
        return self._assigned(rule, key, rep, why, [*passed, Candidate(rep.id, None)], len(reps), team)

    def _round_robin(self, rule: Rule, key: str, team: Team | None, lead: LeadFacts, loads: Loads,
                     excluded: frozenset[str], reps: Sequence[Rep]) -> Decision:
        """The next rep in turn after the last one given a lead; full or absent reps are skipped, and the
        turn (persisted) moves on only to the rep chosen, so that over time equals get equal shares."""
        order = self._team_order.get(team.id, []) if team else self._all_order
        if not order:
            return self._nobody(rule, key, team, lead, [], 0)
        cache_key = (key, id(order))
        if not excluded and cache_key in self._nobody_cache:
            return _copy(self._nobody_cache[cache_key])
        last = self.pointers.get(key)
        start = _after(order, last)
        passed: list[Candidate] = []
        by_id = self._by_id
        for i in range(len(order)):
            rep = by_id.get(order[(start + i) % len(order)])
            if rep is None:
                continue
            why = self._passed_over(rep, lead, loads, excluded)
            if why is not None:
                passed.append(Candidate(rep.id, why))
                continue
            self.pointers[key] = rep.id
            self.moved_pointers.add(key)
            return self._assigned(rule, key, rep, "next in turn" + (f", after {len(passed)} passed over" if passed else ""),
                                  [*passed, Candidate(rep.id, None)], len(order), team)
        decision = self._nobody(rule, key, team, lead, passed, len(order))
        if not excluded and all(r in self._unavailable for r in order):
            self._nobody_cache[cache_key] = _copy(decision)
        return decision

    def _weighted(self, rule: Rule, lead: LeadFacts, loads: Loads, eligible: list[Rep], team: Team | None
                  ) -> tuple[Rep, str]:
        channel = lead.channel
        if rule.weight_by == "tier":
            measure = {r.id: -float(r.tier) for r in eligible}
        else:
            measure = {r.id: self.rates.rate(r.id, r.team, channel) for r in eligible}
        if rule.mode == "growth":
            rng = random.Random(lead.lead_id.int)  # the same lead draws the same way (replays, simulation)
            if rule.weight_by == "tier":
                tiers = sorted({r.tier for r in eligible})
                tier = rng.choice(tiers)
                pick = rng.choice(sorted((r for r in eligible if r.tier == tier), key=lambda r: r.id))
                return pick, f"growth mode: drawn from tier {tier} at random"
            ranked = sorted(eligible, key=lambda r: r.id)
            pick = rng.choices(ranked, weights=[measure[r.id] for r in ranked])[0]
            return pick, f"growth mode: drawn at random, weighted by conversion {measure[pick.id]:.1%}"
        bands = _bands(eligible, measure, rule.weight_by)
        want = min(GRADE_BAND.get(lead.grade or "", 1), len(bands) - 1)
        band = bands[want]
        pick = min(band, key=lambda r: (loads.of(r.id).open, -measure[r.id], r.id))
        label = f"tier {pick.tier}" if rule.weight_by == "tier" else f"conversion {measure[pick.id]:.1%}"
        return pick, f"contraction mode: grade {lead.grade} goes to band {want + 1} of {len(bands)} ({label})"

    # ---- eligibility -----------------------------------------------------------------------------

    def _screen(self, reps: Sequence[Rep], lead: LeadFacts, loads: Loads, excluded: frozenset[str]
                ) -> tuple[list[Candidate], list[Rep]]:
        """The reps who may take the lead, and those passed over with why. Reps found away or full are set
        aside for the rest of the batch (they stay so), so a team's screen costs what its open reps do."""
        state = self._screens.get(id(reps))
        if state is None:
            state = self._screens[id(reps)] = ([*reps], [])
        maybe, aside = state
        passed, eligible, still = [], [], []
        for rep in maybe:
            why = self._passed_over(rep, lead, loads, excluded)
            if why is None:
                eligible.append(rep)
                still.append(rep)
            elif rep.id in self._unavailable:
                aside.append(Candidate(rep.id, why))
            else:
                passed.append(Candidate(rep.id, why))
                still.append(rep)
        if len(still) != len(maybe):
            self._screens[id(reps)] = (still, aside)
        return [*aside, *passed], eligible

    def _passed_over(self, rep: Rep, lead: LeadFacts, loads: Loads, excluded: frozenset[str]) -> str | None:
        known = self._unavailable.get(rep.id)
        if known is not None:
            return known
        why = self.why_not(rep, lead, loads, excluded)
        if why is not None and _reason_kind(why) in ("full", "full for today", "away", "gone"):
            self._unavailable[rep.id] = why
        return why

    @staticmethod
    def why_not(rep: Rep, lead: LeadFacts, loads: Loads, excluded: frozenset[str], skills: bool = True
                ) -> str | None:
        """Why `rep` may not take the lead now (None: he may): away, a previous owner, not skilled for it, or
        at a cap. The managers' tools ask it too, without the skills."""
        if rep.status != RepStatus.active:
            return "away (on leave)" if rep.status == RepStatus.on_leave else "gone"
        if rep.id in excluded:
            return "previous owner"
        if skills:
            if rep.channels and lead.channel not in rep.channels:
                return f"not on channel {lead.channel}"
            if rep.industries and lead.industry not in rep.industries:
                return f"not in industry {lead.industry or '(none)'}"
            if rep.product_lines and lead.product_interest not in rep.product_lines:
                return f"not on product line {lead.product_interest or '(none)'}"
        load = loads.of(rep.id)
        if rep.max_open_leads is not None and load.open >= rep.max_open_leads:
            return f"full ({load.open} of {rep.max_open_leads} open)"
        if rep.max_new_per_day is not None and load.new_today >= rep.max_new_per_day:
            return f"full for today ({load.new_today} of {rep.max_new_per_day} new)"
        return None

    def _reps(self, team: Team | None) -> tuple[Rep, ...]:
        return self.org.reps_of(team.id if team else None)

    def _covering(self, team: Team | None, lead: LeadFacts) -> tuple[list[Rep], str]:
        """Reps whose territory is the lead's city, else its province (a city's reps come first)."""
        where = "/".join(p for p in (lead.province, lead.city) if p)
        team_id = team.id if team else None
        by_city = self._by_city.get((team_id, place(lead.city)), []) if lead.city else []
        if by_city:
            return by_city, where
        return (self._by_province.get((team_id, place(lead.province)), []) if lead.province else []), where

    # ---- outcomes --------------------------------------------------------------------------------

    def _assigned(self, rule: Rule, key: str, rep: Rep, why: str, candidates: list[Candidate], considered: int,
                  team: Team | None = None) -> Decision:
        kept, not_listed = _kept(candidates)
        return Decision("assigned", key, why, strategy=rule.strategy, owner_id=rep.id, team_id=rep.team,
                        candidates=kept, considered=considered, not_listed=not_listed)

    def _pooled(self, rule: Rule, key: str, team: Team | None, lead: LeadFacts, why: str,
                candidates: list[Candidate] | None = None, considered: int = 0) -> Decision:
        kept, not_listed = _kept(candidates or [])
        return Decision("pooled", key, why, strategy=rule.strategy, team_id=team.id if team else None,
                        pool_id=team.default_pool if team else self.default_pool,
                        candidates=kept, considered=considered, not_listed=not_listed)

    def _nobody(self, rule: Rule, key: str, team: Team | None, lead: LeadFacts, passed: list[Candidate],
                considered: int) -> Decision:
        if not considered:
            why = f"team {team.id} has no reps" if team else "the organisation has no reps"
        else:
            counts = Counter(_reason_kind(c.passed) for c in passed)
            detail = ", ".join(f"{n} {kind}" for kind, n in counts.most_common())
            full = counts["full"] + counts["full for today"]
            why = ("every eligible rep is full" if full else "no eligible rep") + (f" ({detail})" if detail else "")
        return self._pooled(rule, key, team, lead, why, passed, considered)


@dataclass(frozen=True)
class _OrgIndex:
    team_order: dict[str, list[str]]
    all_order: list[str]
    by_id: dict[str, Rep]
    by_city: dict[tuple[str | None, str], list[Rep]]
    by_province: dict[tuple[str | None, str], list[Rep]]


def _index(org: Organisation) -> _OrgIndex:
    """What routing looks reps up by, built once per organisation (a router is made per transaction)."""
    index = getattr(org, "_routing_index", None)
    if index is None:
        by_city, by_province = _territory_index(org)
        index = _OrgIndex({t.id: sorted(r.id for r in org.reps_of(t.id)) for t in org.teams},
                          sorted(r.id for r in org.reps), {r.id: r for r in org.reps}, by_city, by_province)
        object.__setattr__(org, "_routing_index", index)
    return index


def _territory_index(org: Organisation) -> tuple[dict[tuple[str | None, str], list[Rep]],
                                                dict[tuple[str | None, str], list[Rep]]]:
    """(team or None for all, city) → reps covering the city; the same for provinces (territories without a
    city): built once per organisation, so a lead's territory is one look-up."""
    by_city: dict[tuple[str | None, str], list[Rep]] = {}
    by_province: dict[tuple[str | None, str], list[Rep]] = {}
    for rep in org.reps:
        for territory_id in rep.territories:
            territory = org.territory(territory_id)
            if territory is None:
                continue
            index, key = (by_city, place(territory.city)) if territory.city else (by_province, place(territory.province))
            for team in (rep.team, None):
                reps = index.setdefault((team, key), [])
                if all(r.id != rep.id for r in reps):
                    reps.append(rep)
    return by_city, by_province


def _copy(decision: Decision) -> Decision:
    return replace(decision, candidates=list(decision.candidates), skipped_rules=[], not_listed=dict(decision.not_listed))


def _excluded(rule: Rule, lead: LeadFacts) -> frozenset[str]:
    sdr = frozenset((lead.qualified_by,)) if lead.qualified_by else frozenset()
    if not lead.recycled or not lead.previous_owners or rule.exclude_previous == "none":
        return sdr
    return sdr | frozenset(lead.previous_owners if rule.exclude_previous == "all" else lead.previous_owners[-1:])


def _after(order: list[str], last: str | None) -> int:
    """The index to start from: just after `last` (or where it would sort, if it is no longer there)."""
    if last is None:
        return 0
    for i, rep_id in enumerate(order):
        if rep_id > last:
            return i
    return 0


def _bands(reps: list[Rep], measure: dict[str, float], weight_by: str) -> list[list[Rep]]:
    """Reps from the best to the least good: by tier, one band a tier; by conversion, thirds."""
    ranked = sorted(reps, key=lambda r: (-measure[r.id], r.id))
    if weight_by == "tier":
        bands: dict[int, list[Rep]] = {}
        for rep in ranked:
            bands.setdefault(rep.tier, []).append(rep)
        return [bands[t] for t in sorted(bands)]
    size = max(1, -(-len(ranked) // 3))
    return [ranked[i:i + size] for i in range(0, len(ranked), size)]


def _kept(candidates: list[Candidate]) -> tuple[list[Candidate], dict[str, int]]:
    """The candidates an explanation names (the chosen one always), and the others counted by reason."""
    if len(candidates) <= MAX_CANDIDATES_KEPT:
        return candidates, {}
    chosen = [c for c in candidates if c.passed is None]
    kept = candidates[: MAX_CANDIDATES_KEPT - len(chosen)]
    rest = Counter(_reason_kind(c.passed) for c in candidates[len(kept):] if c.passed is not None)
    return kept + chosen, dict(rest)


@lru_cache(maxsize=4096)
def _reason_kind(why: str | None) -> str:
    text = why or ""
    for kind in ("full for today", "full", "away", "gone", "previous owner", "not on channel", "not in industry",
                 "not on product line"):
        if text.startswith(kind):
            return kind
    return text
