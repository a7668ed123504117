"""The sales organisation (组织): teams, territories and reps, as a platform team keeps them in Git.

An organisation is one document, validated whole: a file or request with any error (an unknown team, a
duplicate rep, a negative cap) is refused with every error and its path, and nothing of it is applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadflow_shared.documents import DocumentError, Problem, parse_yaml, pydantic_problems
from leadflow_shared.normalize import fold

__all__ = ["DocumentError", "Problem", "parse_yaml", "pydantic_problems"]


class SalesMode(StrEnum):
    telesales = "telesales"  # 电销
    field = "field"  # 地推 / 外勤: leads by territory
    community = "community"  # 社群: leads by trial-class cohort


class RepStatus(StrEnum):
    active = "active"
    on_leave = "on_leave"  # away: given nothing new, keeps what he has
    gone = "gone"  # left the company: given nothing; his leads are reassigned by a manager


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Team(_Strict):
    id: str = Field(min_length=1, max_length=100)
    name: str | None = None
    managers: tuple[str, ...] = ()
    default_pool: str = Field(min_length=1, max_length=100, description="Where the team's unplaced leads wait (公海).")
    sales_mode: SalesMode = SalesMode.telesales
    queue: str | None = Field(None, description="The managers' manual queue; `<team>-queue` if not named.")

    @property
    def queue_name(self) -> str:
        return self.queue or f"{self.id}-queue"


class Territory(_Strict):
    """A province, or a city of it, that field reps cover."""

    id: str = Field(min_length=1, max_length=100)
    province: str = Field(min_length=1)
    city: str | None = None
    name: str | None = None


class Rep(_Strict):
    id: str = Field(min_length=1, max_length=100, description="The staff id: a token's `sub`.")
    name: str | None = None
    team: str
    status: RepStatus = RepStatus.active
    tier: int = Field(1, ge=1, le=10, description="1 is the top tier.")
    max_open_leads: int | None = Field(None, ge=0, description="Most open leads he may hold (容量上限).")
    max_new_per_day: int | None = Field(None, ge=0, description="Most new leads he is given a day.")
    territories: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    product_lines: tuple[str, ...] = ()
    channels: tuple[str, ...] = Field((), description="Source channels he works; none: every channel.")
    cohorts: tuple[str, ...] = Field((), description="Trial-class cohorts he runs (community sales).")


class Organisation(_Strict):
    teams: tuple[Team, ...] = ()
    territories: tuple[Territory, ...] = ()
    reps: tuple[Rep, ...] = ()

    def model_post_init(self, _: Any) -> None:
        object.__setattr__(self, "_teams", {t.id: t for t in self.teams})
        object.__setattr__(self, "_reps", {r.id: r for r in self.reps})
        object.__setattr__(self, "_territories", {t.id: t for t in self.territories})
        by_team: dict[str | None, list[Rep]] = {None: list(self.reps)}
        for rep in self.reps:
            by_team.setdefault(rep.team, []).append(rep)
        object.__setattr__(self, "_by_team", {team: tuple(reps) for team, reps in by_team.items()})

    def team(self, team_id: str) -> Team | None:
        return self._teams.get(team_id)  # type: ignore[attr-defined,no-any-return]

    def rep(self, rep_id: str) -> Rep | None:
        return self._reps.get(rep_id)  # type: ignore[attr-defined,no-any-return]

    def territory(self, territory_id: str) -> Territory | None:
        return self._territories.get(territory_id)  # type: ignore[attr-defined,no-any-return]

    def reps_of(self, team_id: str | None) -> tuple[Rep, ...]:
        """A team's reps (every rep for None)."""
        return self._by_team.get(team_id, ())  # type: ignore[attr-defined,no-any-return]

    def with_rep(self, rep: Rep) -> Organisation:
        """The organisation with `rep` added or replaced (validated again by the caller)."""
        return _replaced(self, "reps", rep)

    def with_team(self, team: Team) -> Organisation:
        return _replaced(self, "teams", team)

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)


def _replaced(org: Organisation, field: str, item: Team | Rep) -> Organisation:
    """A new organisation, checked whole (its look-ups built afresh: a model copy would keep the old ones)."""
    items = [x.model_dump(mode="json") for x in getattr(org, field)]
    index = next((i for i, x in enumerate(items) if x["id"] == item.id), None)
    if index is None:
        items.append(item.model_dump(mode="json"))
    else:
        items[index] = item.model_dump(mode="json")
    return parse_organisation({**org.model_dump(mode="json"), field: items})


def parse_organisation(document: Any) -> Organisation:
    """The organisation a document describes, checked whole; raises DocumentError with every problem."""
    try:
        org = Organisation.model_validate(document if document is not None else {})
    except ValidationError as exc:
        raise DocumentError(pydantic_problems(exc)) from None
    problems = list(_reference_problems(org))
    if problems:
        raise DocumentError(problems)
    return org


def load_organisation_yaml(text: str) -> Organisation:
    return parse_organisation(parse_yaml(text))


def dump_organisation_yaml(org: Organisation) -> str:
    return yaml.safe_dump(org.document(), allow_unicode=True, sort_keys=False)


def _reference_problems(org: Organisation) -> Iterable[Problem]:
    yield from _duplicates("teams", [t.id for t in org.teams], "team")
    yield from _duplicates("territories", [t.id for t in org.territories], "territory")
    yield from _duplicates("reps", [r.id for r in org.reps], "rep")
    teams = {t.id for t in org.teams}
    territories = {t.id for t in org.territories}
    for i, rep in enumerate(org.reps):
        if rep.team not in teams:
            yield Problem(path=f"reps[{i}].team", message=f"unknown team {rep.team!r}")
        for j, territory in enumerate(rep.territories):
            if territory not in territories:
                yield Problem(path=f"reps[{i}].territories[{j}]", message=f"unknown territory {territory!r}")


def _duplicates(section: str, ids: list[str], kind: str) -> Iterable[Problem]:
    first: dict[str, int] = {}
    for i, item_id in enumerate(ids):
        if item_id in first:
            yield Problem(path=f"{section}[{i}].id", message=f"duplicate {kind} {item_id!r} (also {section}[{first[item_id]}])")
        else:
            first[item_id] = i


_PLACE_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "地区", "省", "市")


@lru_cache(maxsize=8192)
def place(text: str | None) -> str:
    """A province or city in one spelling: 浙江省, 浙江 and 浙江 省 meet (and 杭州市, 杭州)."""
    if not text:
        return ""
    value = fold(text).replace(" ", "")
    for suffix in _PLACE_SUFFIXES:
        if value.endswith(suffix) and len(value) > len(suffix) + 1:
            return value[: -len(suffix)]
    return value
