"""The scoring rule set as scoring applies it (pure): conditions on a lead's fields, fit and behaviour rules,
the rule set's settings, and the problems a rule set can have.

A rule set is written in YAML and compiled into these objects by `rules_yaml` (which documents the format).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from leadflow_scoring.domain.model import GradeThresholds

# --------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class RulesError(ValueError):
    """The rule set is invalid; `problems` lists every problem found, each with its path."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the scoring rules:\n{lines}")


# ---------------------------------------------------------------------------------------- values

_MISSING = object()

_UNITS = {"千": 1e3, "k": 1e3, "万": 1e4, "w": 1e4, "亿": 1e8}
_NUMBER = re.compile(r"([-+]?\d+(?:\.\d+)?)\s*(千|万|亿|k|w)?\s*(?:元|人民币|人民币元|人|名)?", re.IGNORECASE)


def to_number(value: Any) -> float | None:
    """A number from a number or a text such as "500万", "1.2亿", "5k", "300人", "1,000万元"; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.replace(",", "").replace("，", "").strip()
        m = _NUMBER.fullmatch(text)
        if m:
            return float(m.group(1)) * _UNITS.get((m.group(2) or "").lower(), 1.0)
    return None


def is_blank(value: Any) -> bool:
    if value is None or value is _MISSING:
        return True
    kind = type(value)
    if kind is str:
        return not value.strip()
    if kind in (int, float, bool):  # the common cases first: ABC checks cost more than the whole test
        return False
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return len(value) == 0
    return not value.strip() if isinstance(value, str) else False


def normalize(value: Any) -> str:
    return str(value).strip().casefold()


TRUE_WORDS = frozenset({"true", "yes", "y", "1", "是", "有", "对", "确定", "确认", "已确认", "confirmed", "ok"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "否", "无", "没有", "不", "不是", "none", "n/a", "unknown", "未知"})


def to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = normalize(value)
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
    return None


def is_mapping(value: Any) -> bool:
    """isinstance(value, Mapping), dict first: the ABC check costs more than most rule tests."""
    return type(value) is dict or isinstance(value, Mapping)


def lookup(data: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    """The value at a dotted path of nested mappings, or a sentinel if there is none."""
    if len(parts) == 1 and type(data) is dict:  # a top-level field (most tests): no walk
        return data.get(parts[0], _MISSING)
    value: Any = data
    for part in parts:
        if not is_mapping(value):
            return _MISSING
        value = value.get(part, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


# ------------------------------------------------------------------------------------- conditions


class Condition(ABC):
    """A test on a lead's fields: a field test, or all/any/not of others."""

    @abstractmethod
    def matches(self, data: Mapping[str, Any]) -> bool: ...

    @abstractmethod
    def describe(self) -> str: ...


@dataclass(frozen=True, eq=False)
class FieldTest(Condition):
    field: str
    op: str
    value: Any
    parts: tuple[str, ...] = field(repr=False)
    test: Callable[[Any], bool] = field(repr=False)

    def matches(self, data: Mapping[str, Any]) -> bool:
        value = lookup(data, self.parts)
        if self.op == "exists":
            return not is_blank(value)
        if self.op == "missing":
            return is_blank(value)
        if is_blank(value):
            return False
        if isinstance(value, list | tuple | set | frozenset):
            return any(self.test(v) for v in value if not is_blank(v))
        return self.test(value)

    def describe(self) -> str:
        if self.op in ("exists", "missing"):
            return f"{self.field} {self.op}"
        shown = "|".join(map(str, self.value)) if isinstance(self.value, list | tuple) else self.value
        return f"{self.field} {self.op} {shown}"


@dataclass(frozen=True, eq=False)
class AllOf(Condition):
    items: tuple[Condition, ...]

    def matches(self, data: Mapping[str, Any]) -> bool:
        return all(c.matches(data) for c in self.items)

    def describe(self) -> str:
        return " and ".join(f"({c.describe()})" for c in self.items)


@dataclass(frozen=True, eq=False)
class AnyOf(Condition):
    items: tuple[Condition, ...]

    def matches(self, data: Mapping[str, Any]) -> bool:
        return any(c.matches(data) for c in self.items)

    def describe(self) -> str:
        return " or ".join(f"({c.describe()})" for c in self.items)


@dataclass(frozen=True, eq=False)
class Not(Condition):
    item: Condition

    def matches(self, data: Mapping[str, Any]) -> bool:
        return not self.item.matches(data)

    def describe(self) -> str:
        return f"not ({self.item.describe()})"


BANT_KEYS = ("budget", "authority", "need", "timeline")
ACTIVITY_TYPES = (
    "page_view", "demo_request", "trial_signup", "form_submit", "email_open", "email_click",
    "template_message_click", "wechat_friend_added", "wechat_article_read", "community_active",
    "event_attended", "call_connected", "unsubscribe",
)  # the well-known types; any other identifier is a custom type

# --------------------------------------------------------------------------------------- rule model


@dataclass(frozen=True)
class FitRule:
    id: str
    when: Condition
    points: float = 0.0
    disqualify: str | None = None  # the reason, if this rule disqualifies
    description: str | None = None

    def explain(self) -> str:
        return self.description or self.when.describe()


@dataclass(frozen=True)
class Cap:
    points: float
    period: str  # as written, e.g. "7d"
    seconds: int

    def bucket(self, ts: float, utc_offset: int) -> int:
        """The calendar window of a timestamp: windows of `seconds` from Monday 1970-01-05 00:00 local time."""
        return math.floor((ts + utc_offset - _MONDAY_EPOCH) / self.seconds)


_MONDAY_EPOCH = 4 * 86400  # 1970-01-05 was a Monday: 7d windows are calendar weeks Monday to Sunday


@dataclass(frozen=True)
class BehaviourRule:
    id: str
    types: frozenset[str] | None  # None: any type ("*")
    points: float
    url_glob: str | None = None
    url_regex: str | None = None
    when: Condition | None = None
    cap: Cap | None = None
    half_life_days: float | None = None  # resolved: the rule's own, else the rule set's
    description: str | None = None
    _url: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    @property
    def catch_all(self) -> bool:
        return self.url_glob is None and self.url_regex is None and self.when is None

    def matches(self, type_: str, url: str | None, attributes: Mapping[str, Any]) -> bool:
        if self.types is not None and type_ not in self.types:
            return False
        if self._url is not None and (url is None or not self._url.search(url)):
            return False
        if self.when is not None:
            return self.when.matches({"type": type_, "url": url, "attributes": attributes or {}})
        return True

    @cached_property
    def detail_parts(self) -> tuple[str, str, str]:
        """What a score's explanation says of this rule, the same on every score: what it is, its cap and
        its half-life (kept on the rule: each score names the rules that took its activities)."""
        cap = f" (cap {self.cap.points:g}/{self.cap.period})" if self.cap is not None else ""
        half_life = f" (half-life {self.half_life_days:g}d)" if self.half_life_days is not None else ""
        return self.explain(), cap, half_life

    def explain(self) -> str:
        if self.description:
            return self.description
        what = "any activity" if self.types is None else "|".join(sorted(self.types))
        if self.url_glob:
            what += f" url {self.url_glob}"
        if self.url_regex:
            what += f" url ~ {self.url_regex}"
        if self.when is not None:
            what += f" when {self.when.describe()}"
        return what


@dataclass(frozen=True)
class Qualification:
    mql_score: float = 60.0
    bant_min_positive: int | None = 2  # None: BANT alone never qualifies


@dataclass(frozen=True)
class BantConfig:
    points_per_positive: float = 0.0
    timeline_months: float = 3.0  # a timeline within this many months is positive


@dataclass(frozen=True)
class Combine:
    mode: str = "rules"  # rules | blend | probability
    weight: float = 0.5  # blend: share of the predictive score (probability × 100)


@dataclass(frozen=True)
class RuleSet:
    version: str
    fit: tuple[FitRule, ...] = ()
    behaviour: tuple[BehaviourRule, ...] = ()
    grades: GradeThresholds = field(default_factory=GradeThresholds)
    qualification: Qualification = field(default_factory=Qualification)
    bant: BantConfig = field(default_factory=BantConfig)
    half_life_days: float | None = None
    min_points: float | None = 0.0
    max_points: float | None = 100.0
    combine: Combine = field(default_factory=Combine)
    utc_offset: int = 8 * 3600  # seconds east of UTC
    description: str | None = None
    version_derived: bool = False  # True when `version` was derived from the content hash
    _by_type: dict[str, tuple[BehaviourRule, ...]] = field(default_factory=dict, repr=False, compare=False)
    _any_type: tuple[BehaviourRule, ...] = field(default=(), repr=False, compare=False)
    _behaviour_by_id: dict[str, BehaviourRule] = field(default_factory=dict, repr=False, compare=False)
    _behaviour_rank: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    # What the fit rules said of each set of lead fields: the rule set's own memo, gone with it.
    fit_memo: dict[bytes, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        types = {t for r in self.behaviour if r.types for t in r.types}
        by_type = {t: tuple(r for r in self.behaviour if r.types is None or t in r.types) for t in types}
        object.__setattr__(self, "_by_type", by_type)
        object.__setattr__(self, "_any_type", tuple(r for r in self.behaviour if r.types is None))
        object.__setattr__(self, "_behaviour_by_id", {r.id: r for r in self.behaviour})
        object.__setattr__(self, "_behaviour_rank", {r.id: n for n, r in enumerate(self.behaviour)})

    def behaviour_in_order(self, rule_ids: Iterable[str]) -> list[BehaviourRule]:
        """These behaviour rules (by id), in file order."""
        rank = self._behaviour_rank
        return [self._behaviour_by_id[i] for i in sorted(rule_ids, key=rank.__getitem__)]

    def behaviour_rule(self, type_: str, url: str | None = None,
                       attributes: Mapping[str, Any] | None = None) -> BehaviourRule | None:
        """The rule that takes an activity: the first matching one in file order, or None."""
        for rule in self._by_type.get(type_, self._any_type):
            if rule.matches(type_, url, attributes or {}):
                return rule
        return None
