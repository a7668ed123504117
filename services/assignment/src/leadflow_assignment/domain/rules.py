"""Assignment rules (分配规则): an ordered list, the first whose conditions match decides, by its strategy.

A rule set has global rules, tried in order, and optional per-team rule lists: a global rule with the
strategy `team` hands the lead to that team's own rules. A rule set is versioned as a whole; every
decision records the version that made it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadflow_assignment.domain.org import DocumentError, Organisation, Problem, parse_yaml, place, pydantic_problems


class Strategy(StrEnum):
    referral_to_original_rep = "referral_to_original_rep"  # 转介绍分原CC
    account_owner = "account_owner"  # a lead of a customer or company someone works goes to him: no 撞单
    territory = "territory"  # field sales: province/city → rep
    cohort = "cohort"  # community sales: the rep who runs the trial-class cohort
    round_robin = "round_robin"
    weighted = "weighted"  # capability: best leads to best converters (收缩期) or mixed across tiers (增长期)
    least_loaded = "least_loaded"
    pool = "pool"  # a named pool (公海)
    manual = "manual"  # a manager's queue
    team = "team"  # the team's own rules decide


# Strategies that choose among the eligible reps of the rule's team (the others name their rep).
CHOOSING = frozenset({Strategy.territory, Strategy.round_robin, Strategy.weighted, Strategy.least_loaded})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Conditions(_Strict):
    """Every condition given must hold (a list: one of its values); none given: every lead."""

    channels: tuple[str, ...] | None = None
    partners: tuple[str, ...] | None = None
    grades: tuple[str, ...] | None = None
    stages: tuple[str, ...] | None = None
    score_min: float | None = None
    score_max: float | None = None
    probability_min: float | None = Field(None, ge=0, le=1)
    probability_max: float | None = Field(None, ge=0, le=1)
    industries: tuple[str, ...] | None = None
    provinces: tuple[str, ...] | None = None
    cities: tuple[str, ...] | None = None
    company_size_min: int | None = Field(None, ge=0)
    company_size_max: int | None = Field(None, ge=0)
    product_interests: tuple[str, ...] | None = None
    existing_customer: bool | None = None
    referral: bool | None = None
    cohorts: tuple[str, ...] | None = None
    recycled: bool | None = Field(None, description="true: only a recycled lead's second assignment.")
    qualified: bool | None = Field(None, description="true: only a lead an SDR qualified (its hand-off to sales); "
                                                     "false: only leads no SDR has qualified yet.")
    custom: dict[str, Any] | None = Field(None, description="Custom attributes: a value, or a list of values.")

    def model_post_init(self, _: Any) -> None:
        # Compiled once: the checks of the conditions given, each a predicate on a lead (a rule of fifty
        # is then two or three calls, not seventeen). Places compared in one spelling (浙江省 = 浙江).
        object.__setattr__(self, "_checks", tuple(self._compile()))

    def _compile(self) -> Any:
        for name, attribute in (("channels", "channel"), ("partners", "partner_id"), ("grades", "grade"),
                                ("stages", "stage"), ("industries", "industry"),
                                ("product_interests", "product_interest"), ("cohorts", "cohort")):
            allowed = getattr(self, name)
            if allowed is not None:
                yield _in(frozenset(allowed), attribute)
        for attribute, low, high in (("score", self.score_min, self.score_max),
                                     ("probability", self.probability_min, self.probability_max),
                                     ("company_size", self.company_size_min, self.company_size_max)):
            if low is not None or high is not None:
                yield lambda lead, a=attribute, lo=low, hi=high: _within(getattr(lead, a), lo, hi)
        if self.provinces is not None:
            provinces = frozenset(place(p) for p in self.provinces)
            yield lambda lead: place(lead.province) in provinces
        if self.cities is not None:
            cities = frozenset(place(c) for c in self.cities)
            yield lambda lead: place(lead.city) in cities
        if self.existing_customer is not None:
            yield lambda lead, want=self.existing_customer: want == (lead.customer_id is not None)
        if self.referral is not None:
            yield lambda lead, want=self.referral: want == bool(lead.referrer)
        if self.recycled is not None:
            yield lambda lead, want=self.recycled: want == lead.recycled
        if self.qualified is not None:
            yield lambda lead, want=self.qualified: want == (lead.qualified_by is not None)
        for key, want in (self.custom or {}).items():
            yield lambda lead, k=key, w=want: _custom_match(w, lead.custom.get(k))

    def match(self, lead: Any) -> bool:  # lead: routing.LeadFacts
        for check in self._checks:  # type: ignore[attr-defined]
            if not check(lead):
                return False
        return True


def _in(allowed: frozenset[str], attribute: str) -> Any:
    def check(lead: Any) -> bool:
        return getattr(lead, attribute) in allowed
    return check


def _within(value: float | None, low: float | None, high: float | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def _custom_match(want: Any, value: Any) -> bool:
    return value in want if isinstance(want, list | tuple) else value == want


class Rule(_Strict):
    id: str = Field(min_length=1, max_length=50)
    description: str | None = None
    when: Conditions = Conditions()
    strategy: Strategy
    team: str | None = Field(None, description="Whose reps are candidates, whose pool and queue take the rest.")
    pool: str | None = Field(None, description="strategy pool: the pool (else the team's default pool).")
    queue: str | None = Field(None, description="strategy manual: the queue (else the team's queue).")
    mode: Literal["contraction", "growth"] = Field(
        "contraction", description="weighted: best leads to best reps (收缩期), or mixed at random (增长期).")
    weight_by: Literal["tier", "conversion"] = "conversion"
    exclude_previous: Literal["all", "last", "none"] = Field(
        "all", description="A recycled lead's second assignment: skip every rep who held it, the last, or none.")


class RuleSet(_Strict):
    rules: tuple[Rule, ...] = ()
    teams: dict[str, tuple[Rule, ...]] = Field(default_factory=dict, description="Per-team rules (strategy team).")
    version: str = Field("0", description="Set when stored; not part of the document.")

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True, exclude={"version"})


DEFAULT_RULES = RuleSet(rules=(
    Rule(id="referral", strategy=Strategy.referral_to_original_rep, when=Conditions(referral=True)),
    Rule(id="account-owner", strategy=Strategy.account_owner),
    Rule(id="everyone-else", strategy=Strategy.round_robin),
))


def parse_rules(document: Any, org: Organisation | None = None) -> RuleSet:
    """The rule set of a document, checked whole (and against the organisation, when given): every rule
    is checked, so one bad rule does not hide the errors of the others."""
    try:
        rules = RuleSet.model_validate(document if document is not None else {})
    except ValidationError as exc:
        problems = pydantic_problems(exc)
        problems += _problems(_valid_rules(document), org)
        raise DocumentError(problems) from None
    problems = _problems(rules, org)
    if problems:
        raise DocumentError(problems)
    return rules


def _valid_rules(document: Any) -> RuleSet:
    """The rules of an invalid document that are valid on their own (to check them further)."""
    def valid(nodes: Any) -> tuple[Rule, ...]:
        kept = []
        for node in nodes if isinstance(nodes, list) else []:
            try:
                kept.append(Rule.model_validate(node))
            except ValidationError:
                kept.append(Rule(id="\0", strategy=Strategy.pool))  # keeps the indexes; never reported
        return tuple(kept)

    doc = document if isinstance(document, dict) else {}
    teams = doc.get("teams") if isinstance(doc.get("teams"), dict) else {}
    return RuleSet(rules=valid(doc.get("rules")), teams={str(k): valid(v) for k, v in teams.items()})


def load_rules_yaml(text: str, org: Organisation | None = None) -> RuleSet:
    return parse_rules(parse_yaml(text), org)


def dump_rules_yaml(rules: RuleSet) -> str:
    return yaml.safe_dump(rules.document(), allow_unicode=True, sort_keys=False)


def _problems(rules: RuleSet, org: Organisation | None) -> list[Problem]:
    problems: list[Problem] = []
    lists = [("rules", rules.rules)] + [(f"teams.{team}", team_rules) for team, team_rules in rules.teams.items()]
    for prefix, rule_list in lists:
        seen: dict[str, int] = {}
        for i, rule in enumerate(rule_list):
            if rule.id == "\0":
                continue
            path = f"{prefix}[{i}]"
            if rule.id in seen:
                problems.append(Problem(path=f"{path}.id", message=f"duplicate rule {rule.id!r} (also {prefix}[{seen[rule.id]}])"))
            seen.setdefault(rule.id, i)
            if prefix == "rules" and rule.strategy == Strategy.team and not rule.team:
                problems.append(Problem(path=f"{path}.team", message="strategy team needs `team`"))
            if prefix == "rules" and rule.strategy == Strategy.manual and not (rule.team or rule.queue):
                problems.append(Problem(path=f"{path}.team", message="strategy manual needs `team` or `queue`"))
            if prefix != "rules" and rule.strategy == Strategy.team:
                problems.append(Problem(path=f"{path}.strategy", message="a team's rule cannot hand over to a team"))
            if org is not None and rule.team and org.team(rule.team) is None:
                problems.append(Problem(path=f"{path}.team", message=f"unknown team {rule.team!r}"))
    if org is not None:
        for team in rules.teams:
            if org.team(team) is None:
                problems.append(Problem(path=f"teams.{team}", message=f"unknown team {team!r}"))
    return problems
