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
    custom: dict[str, Any] | None = Field(None, description="Custom attributes: a value, or a list of values.")

    def model_post_init(self, _: Any) -> None:
        # Provinces and cities compared in one spelling (浙江省 = 浙江).
        object.__setattr__(self, "_provinces", frozenset(place(p) for p in self.provinces or ()))
        object.__setattr__(self, "_cities", frozenset(place(c) for c in self.cities or ()))

    def match(self, lead: Any) -> bool:  # lead: routing.LeadFacts
        return (
            _one_of(self.channels, lead.channel)
            and _one_of(self.partners, lead.partner_id)
            and _one_of(self.grades, lead.grade)
            and _one_of(self.stages, lead.stage)
            and _within(lead.score, self.score_min, self.score_max)
            and _within(lead.probability, self.probability_min, self.probability_max)
            and _one_of(self.industries, lead.industry)
            and (self.provinces is None or place(lead.province) in self._provinces)  # type: ignore[attr-defined]
            and (self.cities is None or place(lead.city) in self._cities)  # type: ignore[attr-defined]
            and _within(lead.company_size, self.company_size_min, self.company_size_max)
            and _one_of(self.product_interests, lead.product_interest)
            and (self.existing_customer is None or self.existing_customer == (lead.customer_id is not None))
            and (self.referral is None or self.referral == bool(lead.referrer))
            and _one_of(self.cohorts, lead.cohort)
            and (self.recycled is None or self.recycled == lead.recycled)
            and all(_custom_match(want, lead.custom.get(key)) for key, want in (self.custom or {}).items())
        )


def _one_of(allowed: tuple[str, ...] | None, value: str | None) -> bool:
    return allowed is None or (value is not None and value in allowed)


def _within(value: float | None, low: float | None, high: float | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def _custom_match(want: Any, value: Any) -> bool:
    return value in want if isinstance(want, list) else value == want


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
