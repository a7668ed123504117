"""Public pools (公海) as a platform team keeps them in Git: one document of pools, each with who may see
it, who may claim from it, who manages it, which leads belong to it and the rules its owners live by,
plus the managed reason lists (放弃原因, 无效原因, 培育原因).

Validated whole like the organisation: a document with any error is refused with every error and its
path, and nothing of it is applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadflow_shared.documents import DocumentError, Problem, parse_yaml, pydantic_problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PoolKind(StrEnum):
    department = "department"
    channel = "channel"
    region = "region"
    custom = "custom"


class Audience(_Strict):
    """Who: staff ids, members of teams, holders of roles (any of them)."""

    staff: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    def admits(self, staff_id: str, teams: Iterable[str], roles: Iterable[str]) -> bool:
        return (staff_id in self.staff or any(t in self.teams for t in teams)
                or any(r in self.roles for r in roles))


class LeadFilter(_Strict):
    """Which leads belong to the pool (all given conditions hold; an empty filter takes any lead)."""

    teams: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()

    def matches(self, lead: dict[str, Any]) -> bool:
        checks = ((self.teams, "team_id"), (self.sources, "source"), (self.partners, "partner_id"),
                  (self.provinces, "province"), (self.cities, "city"), (self.industries, "industry"),
                  (self.grades, "grade"))
        return all(not allowed or lead.get(field) in allowed for allowed, field in checks)


class RecycleRule(_Strict):
    """Deadlines for the leads of some grades or customer levels (empty lists: every lead), in business days;
    a missing figure falls back to the pool's own."""

    grades: tuple[str, ...] = ()
    customer_levels: tuple[str, ...] = ()
    no_follow_up_days: int | None = Field(None, ge=1, description="First follow-up within (未跟进回收).")
    inactivity_days: int | None = Field(None, ge=1, description="Between follow-ups (跟进间隔).")
    no_opportunity_days: int | None = Field(None, ge=1, description="To open an opportunity (无商机回收); an "
                                                                    "opportunity opens when the lead converts.")
    not_converted_days: int | None = Field(None, ge=1, description="To convert (未转化回收).")
    to_pool: str | None = Field(None, description="Where the recycled lead lands (default: the pool's).")

    def applies(self, grade: str | None, customer_level: str | None) -> bool:
        return ((not self.grades or grade in self.grades)
                and (not self.customer_levels or customer_level in self.customer_levels))


class PoolRules(_Strict):
    max_held: int = Field(50, ge=0, description="Most leads a rep may hold from this pool.")
    claims_per_day: int = Field(20, ge=0, description="Claims a rep may make from this pool per day.")
    protection_days: int = Field(0, ge=0, description="Business days after a claim before it can be recycled.")
    first_follow_up_days: int = Field(2, ge=1, description="Business days to the first follow-up.")
    inactivity_days: int = Field(5, ge=1, description="Business days allowed between follow-ups.")
    conversion_days: int = Field(30, ge=1, description="Business days to convert.")
    reminder_hours: float = Field(4, ge=0, description="How long before a deadline the owner is reminded.")
    cooldown_days: int = Field(7, ge=0, description="Days before a previous owner may claim the lead again.")
    recycle: tuple[RecycleRule, ...] = ()
    recycle_to: str | None = Field(None, description="Where recycled leads land (default: this pool).")
    block_collusion: bool = Field(False, description="Refuse a claim from a rep flagged for collusion with "
                                                     "the lead's last owner.")


class Pool(_Strict):
    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str | None = None
    kind: PoolKind = PoolKind.custom
    filter: LeadFilter = LeadFilter()
    viewers: Audience = Audience(roles=("rep", "sdr", "manager"))
    claimers: Audience = Audience(roles=("rep", "sdr"))
    managers: Audience = Audience(roles=("manager", "admin"))
    rules: PoolRules = PoolRules()

    def may_view(self, staff_id: str, teams: Iterable[str], roles: Iterable[str]) -> bool:
        roles = tuple(roles)
        return ("admin" in roles or self.viewers.admits(staff_id, teams, roles)
                or self.managers.admits(staff_id, teams, roles))

    def may_claim(self, staff_id: str, teams: Iterable[str], roles: Iterable[str]) -> bool:
        return self.claimers.admits(staff_id, teams, roles)

    def may_manage(self, staff_id: str, teams: Iterable[str], roles: Iterable[str]) -> bool:
        roles = tuple(roles)
        return "admin" in roles or self.managers.admits(staff_id, teams, roles)

    def recycle_rule(self, grade: str | None, customer_level: str | None) -> RecycleRule:
        for rule in self.rules.recycle:
            if rule.applies(grade, customer_level):
                return rule
        return RecycleRule()


def conversion_days(rule: RecycleRule | None, rules: PoolRules) -> int:
    """Conversion opens the opportunity, so the sooner of the two deadlines holds."""
    given = [d for d in ((rule and rule.no_opportunity_days), (rule and rule.not_converted_days)) if d]
    return min(given) if given else rules.conversion_days


class Reason(_Strict):
    code: str = Field(min_length=1, max_length=100)
    zh: str
    en: str

    def text(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


DEFAULT_RELEASE_REASONS = (
    Reason(code="no_answer", zh="多次联系不上", en="never answers"),
    Reason(code="no_budget", zh="暂无预算", en="no budget"),
    Reason(code="not_decision_maker", zh="非决策人", en="not the decision maker"),
    Reason(code="wrong_region", zh="不在服务区域", en="outside our region"),
    Reason(code="other", zh="其他", en="other"),
)
DEFAULT_INVALID_REASONS = (
    Reason(code="wrong_number", zh="空号/错号", en="wrong number"),
    Reason(code="no_need", zh="无需求", en="no need"),
    Reason(code="competitor", zh="同行/竞争对手", en="competitor"),
    Reason(code="duplicate", zh="重复线索", en="duplicate"),
    Reason(code="test", zh="测试数据", en="test data"),
)
DEFAULT_NURTURE_REASONS = (
    Reason(code="not_now", zh="暂不需要，后续再联系", en="not now, later"),
    Reason(code="needs_education", zh="需求不明确，需培育", en="needs nurturing"),
    Reason(code="budget_next_year", zh="明年预算", en="budget next year"),
)


class PoolDocument(_Strict):
    default_pool: str = Field("public", description="Where a lead no pool's filter takes goes.")
    pools: tuple[Pool, ...] = (Pool(id="public", name="公海"),)
    release_reasons: tuple[Reason, ...] = DEFAULT_RELEASE_REASONS
    invalid_reasons: tuple[Reason, ...] = DEFAULT_INVALID_REASONS
    nurture_reasons: tuple[Reason, ...] = DEFAULT_NURTURE_REASONS

    def pool(self, pool_id: str) -> Pool | None:
        return next((p for p in self.pools if p.id == pool_id), None)

    def home_pool(self, lead: dict[str, Any]) -> str:
        """The first pool (in document order) whose filter takes the lead; the default pool otherwise."""
        for pool in self.pools:
            if pool.filter != LeadFilter() and pool.filter.matches(lead):
                return pool.id
        return self.default_pool

    def rules_of(self, pool_id: str) -> PoolRules:
        """A pool's rules; an unknown pool (one assignment named but nobody described) has the defaults."""
        pool = self.pool(pool_id)
        return pool.rules if pool else PoolRules()

    def reason(self, kind: str, code: str) -> Reason | None:
        reasons = {"release": self.release_reasons, "invalid": self.invalid_reasons,
                   "nurture": self.nurture_reasons}[kind]
        return next((r for r in reasons if r.code == code), None)

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=False)


DEFAULT_POOLS = PoolDocument()


def parse_pools(data: Any) -> PoolDocument:
    """The document, validated whole; DocumentError lists every problem with its path."""
    if not isinstance(data, dict):
        raise DocumentError([Problem(path="", message="a pools document is a mapping with a `pools` list")])
    try:
        document = PoolDocument.model_validate(data)
    except ValidationError as exc:
        raise DocumentError(pydantic_problems(exc)) from None
    problems = list(_reference_problems(document))
    if problems:
        raise DocumentError(problems)
    return document


def load_pools_yaml(text: str) -> PoolDocument:
    return parse_pools(parse_yaml(text))


def dump_pools_yaml(document: PoolDocument) -> str:
    return yaml.safe_dump(document.document(), allow_unicode=True, sort_keys=False)


def _reference_problems(document: PoolDocument) -> Iterable[Problem]:
    ids = [p.id for p in document.pools]
    seen: set[str] = set()
    for i, pool_id in enumerate(ids):
        if pool_id in seen:
            yield Problem(path=f"pools[{i}].id", message=f"duplicate pool {pool_id!r}")
        seen.add(pool_id)
    if document.default_pool not in seen:
        yield Problem(path="default_pool", message=f"unknown pool {document.default_pool!r}")
    for i, pool in enumerate(document.pools):
        if pool.rules.recycle_to and pool.rules.recycle_to not in seen:
            yield Problem(path=f"pools[{i}].rules.recycle_to", message=f"unknown pool {pool.rules.recycle_to!r}")
        for j, rule in enumerate(pool.rules.recycle):
            if rule.to_pool and rule.to_pool not in seen:
                yield Problem(path=f"pools[{i}].rules.recycle[{j}].to_pool", message=f"unknown pool {rule.to_pool!r}")
    for section in ("release_reasons", "invalid_reasons", "nurture_reasons"):
        codes: set[str] = set()
        for i, reason in enumerate(getattr(document, section)):
            if reason.code in codes:
                yield Problem(path=f"{section}[{i}].code", message=f"duplicate reason {reason.code!r}")
            codes.add(reason.code)
