"""Scoring rules in YAML: parsed, validated and compiled into the rule model of `rules` (pure: text in,
objects out).

A rule set (see `default_rules.yaml` for a full one)::

    version: "cn-b2b-2025.1"          # optional; if absent: "sha256:" + 12 hex of the canonical content
    description: 默认规则
    timezone: "+08:00"                # UTC offset of the calendar that cap periods are counted in
    grades: {A: 80, B: 60, C: 40}     # lowest score of each grade; below C is D
    qualification: {mql_score: 60, bant_min_positive: 2}   # MQL if score >= mql_score or BANT >= N (null: off)
    bant: {points_per_positive: 5, timeline_months: 3}
    decay: {half_life_days: 14}       # behaviour points halve every 14 days (omit or null: no decay)
    limits: {min: 0, max: 100}        # the rules' score is clamped to this range (null: unbounded)
    combine: {mode: blend, weight: 0.4}   # rules | blend | probability
    fit:                              # every matching fit rule counts
      - id: title_director
        when: {field: title, contains: [总监, 负责人]}
        points: 12
      - id: student
        when: {field: title, contains: [学生, 求职]}
        disqualify: persona mismatch   # or `true`
    behaviour:                        # the FIRST matching rule (file order) takes an activity
      - id: pricing_page
        type: page_view               # a type, a list of types, or "*"
        url: "*/pricing*"             # glob (case-insensitive); or url_regex: "..."
        when: {field: attributes.duration, gte: 30}   # optional, on type / url / attributes.*
        points: 10
        cap: {points: 20, period: 7d}  # at most 20 points per calendar week from this rule
        decay: {half_life_days: 30}    # optional override; `decay: false` for none

Conditions (`when`): `{field: <dotted path>, <op>: <value>}` with op one of equals, in, contains (a
substring or a list of substrings, any of which), regex (search), gt, gte, lt, lte, between ([low, high],
inclusive), exists, missing (both `true`); or `{all: [...]}`, `{any: [...]}`, `{not: {...}}`; a list is
`all`. String comparisons ignore case and surrounding blanks. A missing/blank field matches nothing but
`missing` (so `not` of any other test matches it). A list-valued field matches if any element does.
Numbers in text are read with Chinese units: "500万" = 5,000,000, "1.2亿", "5k", "300人", "1000万元".

Every problem is collected with its path (`fit[2].when.field`) and reported at once in a `RulesError`.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any

import yaml

from leadflow_scoring.domain.model import GradeThresholds
from leadflow_scoring.domain.rules import (
    BANT_KEYS,
    AllOf,
    AnyOf,
    BantConfig,
    BehaviourRule,
    Cap,
    Combine,
    Condition,
    FieldTest,
    FitRule,
    Not,
    Problem,
    Qualification,
    RulesError,
    RuleSet,
    normalize,
    to_bool,
    to_number,
)

OPERATORS = ("equals", "in", "contains", "regex", "gt", "gte", "lt", "lte", "between", "exists", "missing")
COMBINATORS = ("all", "any", "not")

# The lead snapshot's fields, and enrichment fields commonly added to it; a field name close to one of
# these but not equal is reported as a probable typo. Other names (custom enrichment keys) are accepted.
LEAD_FIELDS = frozenset({
    "name", "mobile", "wechat", "email", "company_name", "company_credit_code", "title", "province", "city",
    "region", "district", "industry", "source", "campaign", "referrer", "product_interest", "bant", "consent",
    "custom", "enrichment", "registered_capital", "employees", "company_size", "size", "founded_year",
    "revenue", "listed", "company_type", "website", "department",
})
ACTIVITY_FIELDS = ("type", "url", "attributes")

_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
_FIELD = re.compile(r"[^\W\d][\w\-]*(\.[\w\-]+)*")
_TYPE = re.compile(r"[a-z][a-z0-9_.:\-]{0,63}")
_PERIOD = re.compile(r"(\d+)\s*([hdw])")
_PERIOD_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}
_TZ = re.compile(r"([+-])(\d{2}):(\d{2})")
MAX_VERSION_LENGTH = 50  # scoring.scored_leads.rules_version is String(50)

_TOP_KEYS = ("version", "description", "timezone", "grades", "qualification", "bant", "decay", "limits",
             "combine", "fit", "behaviour")
_FIT_KEYS = ("id", "description", "when", "points", "disqualify")
_BEHAVIOUR_KEYS = ("id", "description", "type", "url", "url_regex", "when", "points", "cap", "decay")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Check:
    """The problems found so far, and the checks every part of a rule set makes (each notes what is wrong)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def mapping(self, node: Any, path: str, what: str, keys: Iterable[str]) -> Mapping[str, Any] | None:
        """The node as a mapping of these keys (each other key is a problem), or None if absent or no mapping."""
        if node is None:
            return None
        if not isinstance(node, Mapping):
            self.problem(path, f"expected {what} (a mapping), got {_type_name(node)}")
            return None
        self.known_keys(node, path, keys)
        return node

    def known_keys(self, node: Mapping[str, Any], path: str, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in node:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                self.problem(_join(path, str(key)), f"unknown key '{key}'{suggestion}; allowed: {', '.join(allowed)}")

    def number(self, node: Mapping[str, Any], key: str, path: str, *, default: float | None,
               required: bool = False, nullable: bool = False, low: float | None = None,
               high: float | None = None, low_open: bool = False) -> float | None:
        p = _join(path, key)
        if key not in node:
            if required:
                self.problem(p, "missing: a number is required")
            return default
        value = node[key]
        if value is None and nullable:
            return None
        if not _is_number(value):
            self.problem(p, f"must be a number, got {_type_name(value)} {value!r}")
            return default
        if low is not None and (value <= low if low_open else value < low):
            self.problem(p, f"must be {'>' if low_open else '>='} {low:g}, got {value!r}")
            return default
        if high is not None and value > high:
            self.problem(p, f"must be <= {high:g}, got {value!r}")
            return default
        return float(value)

    def rule(self, node: Any, path: str, parts: str, keys: Iterable[str]) -> bool:
        """Whether the node is a rule: a mapping (with `parts`) of these keys (each other key is a problem)."""
        if not isinstance(node, Mapping):
            self.problem(path, f"expected a rule (a mapping with {parts}), got {_type_name(node)}")
            return False
        self.known_keys(node, path, keys)
        return True

    def rule_id(self, node: Mapping[str, Any], path: str) -> str | None:
        rid = node.get("id")
        if rid is None:
            self.problem(_join(path, "id"), "missing: every rule needs an id (lower-case letters, digits, _ . -)")
            return None
        if not isinstance(rid, str) or not _ID.fullmatch(rid):
            self.problem(_join(path, "id"),
                         f"must be 1-64 lower-case letters, digits, _ . - (starting with a letter or digit), got {rid!r}")
            return None
        return rid

    def problems_in(self, path: str) -> bool:
        return any(p.path == path or p.path.startswith(path + ".") or p.path.startswith(path + "[")
                   for p in self.problems)

    def description(self, node: Mapping[str, Any], path: str) -> str | None:
        value = node.get("description")
        if value is not None and not isinstance(value, str):
            self.problem(_join(path, "description"), f"must be a string, got {_type_name(value)}")
            return None
        return value

    def regex(self, value: Any, path: str) -> re.Pattern[str] | None:
        if not isinstance(value, str) or not value:
            self.problem(path, f"must be a regular expression (a string), got {_type_name(value)}")
            return None
        try:
            return re.compile(value)
        except re.error as exc:
            self.problem(path, f"invalid regular expression {value!r}: {exc}")
            return None


# ------------------------------------------------------------------------------- the rule set and its settings

# A settings mapping left out (`or {}`) gives each of its settings the default.


def _rule_set(check: _Check, doc: Any) -> RuleSet | None:
    if not isinstance(doc, Mapping):
        check.problem("", f"the rule set must be a mapping (version, fit, behaviour, ...), got {_type_name(doc)}")
        return None
    check.known_keys(doc, "", _TOP_KEYS)
    if "fit" not in doc and "behaviour" not in doc:
        check.problem("", "no rules: add a `fit` list, a `behaviour` list, or both")

    version, derived = _version(check, doc)
    description = doc.get("description")
    if description is not None and not isinstance(description, str):
        check.problem("description", f"must be a string, got {_type_name(description)}")
        description = None
    utc_offset = _timezone(check, doc.get("timezone", "+08:00"), "timezone")
    grades = _grades(check, doc.get("grades"), "grades")
    qualification = _qualification(check, doc.get("qualification"), "qualification")
    bant = _bant(check, doc.get("bant"), "bant")
    half_life = _decay(check, doc["decay"], "decay") if "decay" in doc else None
    low, high = _limits(check, doc.get("limits"), "limits")
    combine = _combine(check, doc.get("combine"), "combine")

    ids: dict[str, str] = {}
    fit = tuple(r for r in _rule_list(check, doc.get("fit"), "fit", lambda n, p: _fit_rule(check, n, p), ids) if r)
    behaviour = tuple(r for r in _rule_list(check, doc.get("behaviour"), "behaviour",
                                            lambda n, p: _behaviour_rule(check, n, p, half_life), ids) if r)
    _unreachable(check, behaviour, doc.get("behaviour"))
    if check.problems:
        return None
    return RuleSet(
        version=version, fit=fit, behaviour=behaviour, grades=grades, qualification=qualification, bant=bant,
        half_life_days=half_life, min_points=low, max_points=high, combine=combine, utc_offset=utc_offset,
        description=description, version_derived=derived,
    )


def _version(check: _Check, doc: Mapping[str, Any]) -> tuple[str, bool]:
    if "version" not in doc:
        canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:12], True
    value = doc["version"]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        check.problem("version", f"must be a string (quote it), got {_type_name(value)} {value!r}")
        return "invalid", False
    value = value.strip()
    if not value:
        check.problem("version", "must not be empty (omit it to derive one from the content)")
    elif len(value) > MAX_VERSION_LENGTH:
        check.problem("version", f"at most {MAX_VERSION_LENGTH} characters, got {len(value)}")
    return value, False


def _timezone(check: _Check, value: Any, path: str) -> int:
    if isinstance(value, str) and value.strip().upper() in ("UTC", "Z"):
        return 0
    m = _TZ.fullmatch(value.strip()) if isinstance(value, str) else None
    if not m or int(m.group(2)) > 14 or int(m.group(3)) >= 60:
        check.problem(path, f"must be a UTC offset such as \"+08:00\" or \"UTC\", got {value!r}")
        return 8 * 3600
    seconds = int(m.group(2)) * 3600 + int(m.group(3)) * 60
    return seconds if m.group(1) == "+" else -seconds


def _grades(check: _Check, node: Any, path: str) -> GradeThresholds:
    node = check.mapping(node, path, "grade thresholds such as {A: 80, B: 60, C: 40}", ("A", "B", "C"))
    if node is None:
        return GradeThresholds()
    a = check.number(node, "A", path, default=None, required=True)
    b = check.number(node, "B", path, default=None, required=True)
    c = check.number(node, "C", path, default=None, required=True)
    if a is None or b is None or c is None:
        return GradeThresholds()
    if not a > b > c:
        check.problem(path, f"thresholds must decrease: A > B > C, got A={a:g}, B={b:g}, C={c:g}")
    return GradeThresholds(a, b, c)


def _qualification(check: _Check, node: Any, path: str) -> Qualification:
    node = check.mapping(node, path, "qualification settings such as {mql_score: 60, bant_min_positive: 2}",
                         ("mql_score", "bant_min_positive")) or {}
    mql = check.number(node, "mql_score", path, default=60.0)
    n: int | None = 2
    if "bant_min_positive" in node:
        value = node["bant_min_positive"]
        if value is None:
            n = None
        elif isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
            n = value
        else:
            check.problem(_join(path, "bant_min_positive"),
                          f"must be a whole number from 1 to 4 (or null: BANT alone never qualifies), got {value!r}")
    return Qualification(mql_score=mql if mql is not None else 60.0, bant_min_positive=n)


def _bant(check: _Check, node: Any, path: str) -> BantConfig:
    node = check.mapping(node, path, "BANT settings such as {points_per_positive: 5, timeline_months: 3}",
                         ("points_per_positive", "timeline_months")) or {}
    per = check.number(node, "points_per_positive", path, default=0.0)
    months = check.number(node, "timeline_months", path, default=3.0, low=0, low_open=True)
    return BantConfig(points_per_positive=per or 0.0, timeline_months=months or 3.0)


def _decay(check: _Check, node: Any, path: str) -> float | None:
    """A half-life in days, or None for no decay (`null` / `false`)."""
    if node is None or node is False:
        return None
    node = check.mapping(node, path, "a decay such as {half_life_days: 14}, or false", ("half_life_days",))
    if node is None:
        return None
    return check.number(node, "half_life_days", path, default=None, required=True, low=0, low_open=True)


def _limits(check: _Check, node: Any, path: str) -> tuple[float | None, float | None]:
    node = check.mapping(node, path, "score limits such as {min: 0, max: 100}", ("min", "max")) or {}
    low = check.number(node, "min", path, default=0.0, nullable=True)
    high = check.number(node, "max", path, default=100.0, nullable=True)
    if low is not None and high is not None and low >= high:
        check.problem(path, f"min must be below max, got min={low:g}, max={high:g}")
    return low, high


def _combine(check: _Check, node: Any, path: str) -> Combine:
    node = check.mapping(node, path, "a combination such as {mode: blend, weight: 0.4}", ("mode", "weight")) or {}
    mode = node.get("mode", "rules")
    if mode not in ("rules", "blend", "probability"):
        check.problem(_join(path, "mode"), f"must be one of rules, blend, probability; got {mode!r}")
        mode = "rules"
    weight = check.number(node, "weight", path, default=0.5, low=0, high=1)
    return Combine(mode=mode, weight=weight if weight is not None else 0.5)


# -------------------------------------------------------------------------------------------- rules


def _rule_list(check: _Check, node: Any, path: str, parse: Callable[[Any, str], Any], ids: dict[str, str]) -> list[Any]:
    if node is None:
        return []
    if not isinstance(node, list):
        check.problem(path, f"must be a list of rules, got {_type_name(node)}")
        return []
    rules = []
    for i, item in enumerate(node):
        p = _join(path, i)
        rule = parse(item, p)
        if isinstance(item, Mapping) and isinstance(item.get("id"), str):
            rid = item["id"]
            if rid in ids:
                check.problem(_join(p, "id"), f"duplicate id '{rid}' (also {ids[rid]}); ids must be unique")
            else:
                ids[rid] = p
        rules.append(rule)
    return rules


def _points(check: _Check, node: Mapping[str, Any], path: str) -> float | None:
    return check.number(node, "points", path, default=None, required=True)


def _fit_rule(check: _Check, node: Any, path: str) -> FitRule | None:
    if not check.rule(node, path, "id, when, points", _FIT_KEYS):
        return None
    rid, description = check.rule_id(node, path), check.description(node, path)
    when = None
    if "when" not in node:
        check.problem(_join(path, "when"), "missing: the condition on the lead, e.g. {field: industry, equals: 制造业}")
    else:
        when = _condition(check, node["when"], _join(path, "when"), "lead")
    points, reason = 0.0, None
    has_points, has_disq = "points" in node, "disqualify" in node and node["disqualify"] is not False
    if has_points and has_disq:
        check.problem(path, "a rule gives points or disqualifies, not both: remove `points` or `disqualify`")
    elif not has_points and not has_disq:
        check.problem(path, "missing: `points` (a number, may be negative) or `disqualify` (true or a reason)")
    elif has_points:
        points = _points(check, node, path)
    else:
        value = node["disqualify"]
        if value is True:
            reason = description or rid or "disqualified"
        elif isinstance(value, str) and value.strip():
            reason = value.strip()
        else:
            check.problem(_join(path, "disqualify"), f"must be true or a reason (a string), got {value!r}")
    if rid is None or when is None or points is None or check.problems_in(path):
        return None
    return FitRule(id=rid, when=when, points=points, disqualify=reason, description=description)


def _behaviour_rule(check: _Check, node: Any, path: str, default_half_life: float | None) -> BehaviourRule | None:
    if not check.rule(node, path, "id, type, points", _BEHAVIOUR_KEYS):
        return None
    rid, description = check.rule_id(node, path), check.description(node, path)
    types = _activity_types(check, node, path)
    points = _points(check, node, path)
    url_glob = url_regex = None
    compiled: re.Pattern[str] | None = None
    if "url" in node and "url_regex" in node:
        check.problem(path, "give `url` (a glob) or `url_regex`, not both")
    elif "url" in node:
        url_glob = node["url"]
        if not isinstance(url_glob, str) or not url_glob.strip():
            check.problem(_join(path, "url"), f"must be a glob such as \"*/pricing*\", got {url_glob!r}")
        else:
            compiled = re.compile(fnmatch.translate(url_glob), re.IGNORECASE)
    elif "url_regex" in node:
        url_regex = node["url_regex"]
        compiled = check.regex(url_regex, _join(path, "url_regex"))
    when = _condition(check, node["when"], _join(path, "when"), "activity") if "when" in node else None
    cap = _cap(check, node["cap"], _join(path, "cap")) if "cap" in node and node["cap"] is not None else None
    half_life = _decay(check, node["decay"], _join(path, "decay")) if "decay" in node else default_half_life
    if rid is None or points is None or check.problems_in(path):
        return None
    return BehaviourRule(id=rid, types=types, points=points, url_glob=url_glob, url_regex=url_regex, when=when,
                         cap=cap, half_life_days=half_life, description=description, _url=compiled)


def _activity_types(check: _Check, node: Mapping[str, Any], path: str) -> frozenset[str] | None:
    p = _join(path, "type")
    if "type" not in node:
        check.problem(p, "missing: the activity type, e.g. page_view (a list of types, or \"*\" for any)")
        return None
    value = node["type"]
    if value == "*":
        return None
    values = value if isinstance(value, list) else [value]
    if not values:
        check.problem(p, "must not be an empty list")
        return None
    for i, t in enumerate(values):
        where = _join(p, i) if isinstance(value, list) else p
        if not isinstance(t, str) or not _TYPE.fullmatch(t):
            check.problem(where, f"an activity type is a lower-case identifier such as page_view, got {t!r}")
    return frozenset(t for t in values if isinstance(t, str))


def _cap(check: _Check, node: Any, path: str) -> Cap | None:
    node = check.mapping(node, path, "a cap such as {points: 15, period: 7d}", ("points", "period"))
    if node is None:
        return None
    points = check.number(node, "points", path, default=None, required=True, low=0, low_open=True)
    period = node.get("period")
    m = _PERIOD.fullmatch(period.strip()) if isinstance(period, str) else None
    seconds = int(m.group(1)) * _PERIOD_SECONDS[m.group(2)] if m else 0
    if "period" not in node:
        check.problem(_join(path, "period"), "missing: the cap's window, e.g. 1d, 7d, 30d, 12h, 2w")
    elif not seconds:
        check.problem(_join(path, "period"),
                      f"must be a positive count of hours, days or weeks such as 12h, 7d, 2w; got {period!r}")
    if points is None or not seconds:
        return None
    return Cap(points=points, period=period.strip(), seconds=seconds)


def _unreachable(check: _Check, rules: tuple[BehaviourRule, ...], nodes: Any) -> None:
    """A rule after a catch-all rule of the same types can never match: say so (specific rules go first)."""
    if not isinstance(nodes, list) or len(rules) != len(nodes):
        return
    for j, later in enumerate(rules):
        for i, earlier in enumerate(rules[:j]):
            if earlier.catch_all and (earlier.types is None or (later.types is not None and later.types <= earlier.types)):
                check.problem(f"behaviour[{j}]",
                              f"rule '{later.id}' can never match: behaviour[{i}] '{earlier.id}' already takes every "
                              f"such activity (the first matching rule wins: put specific rules first)")
                break


# --------------------------------------------------------------------------------------- conditions


def _condition(check: _Check, node: Any, path: str, namespace: str) -> Condition | None:
    if isinstance(node, list):
        if not node:
            check.problem(path, "an empty list of conditions")
            return None
        items = [_condition(check, item, _join(path, i), namespace) for i, item in enumerate(node)]
        return AllOf(tuple(items)) if all(items) else None  # type: ignore[arg-type]
    if not isinstance(node, Mapping):
        check.problem(path, f"expected a condition such as {{field: title, contains: [总监]}}, got {_type_name(node)}")
        return None
    combinators = [k for k in COMBINATORS if k in node]
    if combinators:
        key = combinators[0]
        if len(node) != 1:
            others = ", ".join(str(k) for k in node if k != key)
            check.problem(path, f"'{key}' stands alone in its mapping; also found: {others} "
                                f"(nest them: {{all: [{{...}}, {{...}}]}})")
            return None
        inner = node[key]
        p = _join(path, key)
        if key == "not":
            item = _condition(check, inner, p, namespace)
            return Not(item) if item else None
        if not isinstance(inner, list) or not inner:
            check.problem(p, f"must be a non-empty list of conditions, got {_type_name(inner)}")
            return None
        items = [_condition(check, item, _join(p, i), namespace) for i, item in enumerate(inner)]
        if not all(items):
            return None
        return (AllOf if key == "all" else AnyOf)(tuple(items))  # type: ignore[arg-type]
    return _field_test(check, node, path, namespace)


def _field_test(check: _Check, node: Mapping[str, Any], path: str, namespace: str) -> Condition | None:
    ok = True
    fname = node.get("field")
    if "field" not in node:
        check.problem(_join(path, "field"), "missing: the field to test, e.g. `field: title`"
                      + (" (or all / any / not)" if namespace == "lead" else ""))
        ok = False
    elif not _field_name(check, fname, _join(path, "field"), namespace):
        ok = False
    ops = [k for k in node if k in OPERATORS]
    for key in node:
        if key != "field" and key not in OPERATORS:
            hint = difflib.get_close_matches(str(key), ("field", *OPERATORS, *COMBINATORS), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            check.problem(_join(path, str(key)),
                          f"unknown operator '{key}'{suggestion}; operators: {', '.join(OPERATORS)}")
            ok = False
    if not ops:
        if ok:
            check.problem(path, f"no operator: add one of {', '.join(OPERATORS)}")
        return None
    if len(ops) > 1:
        check.problem(path, f"one operator per test, found {', '.join(ops)}: combine tests with all: [...]")
        return None
    op = ops[0]
    test = _operator(check, op, node[op], _join(path, op))
    if not ok or test is None:
        return None
    return FieldTest(field=fname, op=op, value=node[op], parts=tuple(fname.split(".")), test=test)


def _field_name(check: _Check, name: Any, path: str, namespace: str) -> bool:
    if not isinstance(name, str) or not _FIELD.fullmatch(name):
        check.problem(path, f"must be a field name or dotted path such as title or custom.budget_owner, got {name!r}")
        return False
    parts = name.split(".")
    if namespace == "activity":
        if parts[0] not in ACTIVITY_FIELDS or (parts[0] != "attributes" and len(parts) > 1):
            check.problem(path, f"an activity condition tests type, url or attributes.<key>, got {name!r}")
            return False
        return True
    root = parts[0]
    if root == "bant" and len(parts) > 1 and parts[1] not in BANT_KEYS:
        check.problem(path, f"unknown BANT answer '{parts[1]}'; BANT answers: {', '.join(BANT_KEYS)}")
        return False
    if root not in LEAD_FIELDS:
        hint = difflib.get_close_matches(root, sorted(LEAD_FIELDS), n=1, cutoff=0.8)
        if hint:
            check.problem(path, f"unknown field '{root}' (did you mean '{hint[0]}'?); "
                                f"custom attributes are written custom.<key>")
            return False
    return True


def _operator(check: _Check, op: str, value: Any, path: str) -> Callable[[Any], bool] | None:
    if op in ("exists", "missing"):
        if value is not True:
            other = "missing" if op == "exists" else "exists"
            check.problem(path, f"must be true (to negate, use `{other}: true`), got {value!r}")
            return None
        return lambda v: True
    if op == "equals":
        if isinstance(value, list | Mapping) or value is None:
            check.problem(path, f"must be a single value (a string, number or boolean; for several use `in`), "
                                f"got {_type_name(value)}")
            return None
        return _equals(value)
    if op == "in":
        if not isinstance(value, list) or not value:
            check.problem(path, f"must be a non-empty list of values, got {_type_name(value)}")
            return None
        bad = [i for i, v in enumerate(value) if isinstance(v, list | Mapping) or v is None]
        for i in bad:
            check.problem(_join(path, i), f"must be a string, number or boolean, got {_type_name(value[i])}")
        return None if bad else _in(value)
    if op == "contains":
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            check.problem(path, f"must be a substring or a non-empty list of substrings (strings), got {value!r}")
            return None
        # Any of the substrings, in one C-level search (a title is tested against dozens of them).
        search = re.compile("|".join(re.escape(normalize(v)) for v in values)).search
        return lambda v: search(normalize(v)) is not None
    if op == "regex":
        pattern = check.regex(value, path)
        return (lambda v: pattern.search(str(v)) is not None) if pattern else None
    if op == "between":
        pair = [to_number(v) for v in value] if isinstance(value, list) else []
        if len(pair) != 2 or None in pair:
            check.problem(path, f"must be [low, high] (two numbers), got {value!r}")
            return None
        low, high = pair
        if low > high:  # type: ignore[operator]
            check.problem(path, f"low must not exceed high, got [{low:g}, {high:g}]")
            return None
        return lambda v: (x := to_number(v)) is not None and low <= x <= high  # type: ignore[operator]
    # gt gte lt lte
    bound = to_number(value)
    if bound is None:
        check.problem(path, f"must be a number (such as 100 or \"500万\"), got {_type_name(value)} {value!r}")
        return None
    compare = {"gt": float.__gt__, "gte": float.__ge__, "lt": float.__lt__, "lte": float.__le__}[op]
    return lambda v: (x := to_number(v)) is not None and compare(x, bound)


def _equals(expected: Any) -> Callable[[Any], bool]:
    if isinstance(expected, bool):
        return lambda v: to_bool(v) is expected
    if _is_number(expected):
        number = float(expected)
        return lambda v: to_number(v) == number
    text = normalize(expected)
    return lambda v: normalize(v) == text


def _in(values: list[Any]) -> Callable[[Any], bool]:
    tests = [_equals(v) for v in values]
    texts = frozenset(normalize(v) for v in values if isinstance(v, str))
    if len(texts) == len(tests):  # all strings: a set lookup
        return lambda v: normalize(v) in texts
    return lambda v: any(t(v) for t in tests)


# ----------------------------------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        except TypeError:
            pass  # an unhashable key: the base constructor reports it
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_rules(doc: Any) -> RuleSet:
    """A rule set from its parsed form (what YAML or JSON gives); raises `RulesError` listing every problem."""
    check = _Check()
    rules = _rule_set(check, doc)
    if check.problems or rules is None:
        raise RulesError(check.problems or [Problem("", "invalid rule set")])
    return rules


def load_rules_yaml(text: str | bytes) -> RuleSet:
    """A rule set from YAML text; raises `RulesError` (a YAML syntax error is one problem, with its line)."""
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = ": ".join(str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x) or str(exc)
        raise RulesError([Problem("<yaml>", f"{where}{what}")]) from None
    return parse_rules(doc)


DEFAULT_RULES_RESOURCE = "default_rules.yaml"


def default_rules_text() -> str:
    """The text of the default rule set shipped with the package (package data, read once at start)."""
    return resources.files("leadflow_scoring.domain").joinpath(DEFAULT_RULES_RESOURCE).read_text(encoding="utf-8")


def load_default_rules() -> RuleSet:
    return load_rules_yaml(default_rules_text())
