"""Scoring a lead with a rule set: fit, behaviour (caps, decay), BANT, grade, stage, explanation.

Two paths give the same score:

* `evaluate(lead, activities, rules, now)` from the full history (rules changed, simulation, rebuild);
* `apply_activity(state, activity, rules)` then `evaluate_state(lead, state, rules, now)`: a small JSON-able
  per-lead behaviour state, updated in O(1) per activity and evaluated in O(number of rules).

Semantics (both paths):

* An activity is taken by the first behaviour rule (file order) that matches it; it may be taken by none.
* **Caps** count in calendar windows: a cap's period (`7d`, `1d`, `12h`, `2w`) cuts time into fixed windows
  starting Monday 1970-01-05 00:00 in the rule set's `timezone` (so `7d` = calendar weeks Monday–Sunday,
  `1d` = calendar days, `30d` = fixed 30-day blocks, not months). Within one window a rule's activities
  count `points` each until their sum would pass the cap; then every activity of that window counts the
  same share, `points × min(1, cap / (n × |points|))`. So a window never counts more than the cap, and the
  result does not depend on the order activities arrive in. Negative rules are capped on their size.
* **Decay**: each activity's counted points × 0.5 ** (age_days / half_life) with age measured to
  `max(now, latest activity)`: `now` is injected, never read; an activity "in the future" (clock skew)
  counts at full weight instead of more than its points. Fit points do not decay.
* Rules' score = fit + behaviour + BANT points, clamped to `limits`; then combined with the predictive
  probability (`combine`): `rules` ignores it, `blend` = (1 − w) × rules + w × 100 × p, `probability`
  = 100 × p; without a probability, rules alone. The grade comes from the combined, rounded score (one
  decimal). The explanation's factors add up to the score (`limit:*` and `predictive` carry the adjustments).
* **Stage**: disqualified if a fit rule disqualifies (then points 0, grade D, the `disqualify:<id>` factor
  cancels the rest); else MQL if points >= `qualification.mql_score` or at least
  `qualification.bant_min_positive` BANT answers are positive; else nurture.

**Out-of-order activities** in the state path: uncapped rules are exact whatever the order (each
contribution is anchored at its own time and decayed multiplicatively). Capped rules keep their last
`keep_periods` windows (default 8) in full — an activity landing in one of them is exact too — and fold
older windows into a decayed accumulator; an activity older than that (more than `keep_periods` windows
behind the newest for its rule) can no longer be checked against its cap and is dropped, counted in
`state["dropped"]`. `evaluate` (full history) counts it: re-evaluate from history to heal.

State format (`STATE_FORMAT` 1)::

    {"format": 1, "rules_version": "...", "n": 12, "latest": 1717000000.0, "dropped": 0,
     "rules": {"<rule id>": {"n": 3, "counted": 20.0, "acc": [value, anchor_ts],
                             "buckets": {"<window>": [n, value, anchor_ts]}, "newest": 2901, "dropped": 0}}}

`acc` is a decayed sum anchored at `anchor_ts` (epoch seconds): its value at t is value × 0.5 ** ((t −
anchor) / half_life). A state belongs to one rules version: `StateVersionError` if used with another
(rebuild it from history with `build_state` or `evaluate`).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import msgspec

from leadflow_scoring.domain.model import Factor, Score, Stage
from leadflow_scoring.domain.rules import (
    BANT_KEYS,
    FALSE_WORDS,
    TRUE_WORDS,
    BehaviourRule,
    RuleSet,
    is_mapping,
    normalize,
    to_number,
)

STATE_FORMAT = 1
KEEP_PERIODS = 8
_DAY = 86400.0


@dataclass(frozen=True)
class Activity:
    """Something the lead did. `leadflow_shared.contracts.LeadActivity` or a mapping with the same keys works too."""

    type: str
    occurred_at: datetime
    url: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


class StateVersionError(ValueError):
    """A behaviour state built with other rules: rebuild it from the activity history."""


def _timestamp(value: Any, what: str = "occurred_at") -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{what} must be timezone-aware, got {value!r}")
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)  # epoch seconds
    raise TypeError(f"{what} must be a datetime, an ISO 8601 string or epoch seconds, got {value!r}")


def _activity(activity: Any) -> tuple[str, str | None, float, Mapping[str, Any]]:
    if is_mapping(activity):
        return (str(activity["type"]), activity.get("url"), _timestamp(activity["occurred_at"]),
                activity.get("attributes") or {})
    return (str(activity.type), getattr(activity, "url", None), _timestamp(activity.occurred_at),
            getattr(activity, "attributes", None) or {})


def _weight(age_seconds: float, half_life_days: float | None) -> float:
    return 1.0 if half_life_days is None else 0.5 ** (age_seconds / (half_life_days * _DAY))


def _cap_share(rule: BehaviourRule, n: int) -> float:
    """The share of its points each of a window's `n` activities counts."""
    if rule.cap is None or rule.points == 0 or n == 0:
        return 1.0
    return min(1.0, rule.cap.points / (n * abs(rule.points)))


@dataclass(frozen=True)
class BehaviourTotal:
    rule: BehaviourRule
    count: int  # activities the rule took
    counted: float  # their points after caps, before decay
    points: float  # after caps and decay
    dropped: int = 0  # state path: too late to check against the cap


# ------------------------------------------------------------------------------------ full history


def behaviour_from_history(activities: Iterable[Any], rules: RuleSet, now: datetime) -> list[BehaviourTotal]:
    now_ts = _timestamp(now, "now")
    taken: dict[str, list[float]] = defaultdict(list)
    latest = -math.inf
    for activity in activities:
        type_, url, ts, attributes = _activity(activity)
        latest = max(latest, ts)
        rule = rules.behaviour_rule(type_, url, attributes)
        if rule is not None:
            taken[rule.id].append(ts)
    at = max(now_ts, latest)
    totals = []
    for rule in rules.behaviour:
        stamps = taken.get(rule.id)
        if not stamps:
            continue
        windows: dict[int, list[float]] = defaultdict(list)
        if rule.cap is None:
            windows[0] = stamps
        else:
            for ts in stamps:
                windows[rule.cap.bucket(ts, rules.utc_offset)].append(ts)
        counted = points = 0.0
        for items in windows.values():
            each = rule.points * _cap_share(rule, len(items))
            counted += each * len(items)
            points += sum(each * _weight(at - ts, rule.half_life_days) for ts in items)
        totals.append(BehaviourTotal(rule, len(stamps), counted, points))
    return totals


def evaluate(lead: Mapping[str, Any], activities: Iterable[Any], rules: RuleSet, now: datetime,
             probability: float | None = None) -> Score:
    """The score of a lead from its whole activity history, as of `now`."""
    return _score(lead, behaviour_from_history(activities, rules, now), rules, now, probability)


# ------------------------------------------------------------------------------------ incremental


def new_state(rules: RuleSet) -> dict[str, Any]:
    return {"format": STATE_FORMAT, "rules_version": rules.version, "n": 0, "latest": None, "dropped": 0, "rules": {}}


def _check(state: Mapping[str, Any], rules: RuleSet) -> None:
    if state.get("format") != STATE_FORMAT or state.get("rules_version") != rules.version:
        raise StateVersionError(
            f"behaviour state of rules {state.get('rules_version')!r} (format {state.get('format')!r}) "
            f"used with rules {rules.version!r}: rebuild it from the activity history")


def _acc_add(acc: list[Any], points: float, ts: float, half_life: float | None) -> list[Any]:
    value, anchor = acc
    if anchor is None:
        return [value + points, ts]
    if half_life is None:
        return [value + points, max(anchor, ts)]
    if ts >= anchor:
        return [value * _weight(ts - anchor, half_life) + points, ts]
    return [value + points * _weight(anchor - ts, half_life), anchor]


def _acc_at(acc: list[Any], at: float, half_life: float | None) -> float:
    value, anchor = acc
    return value if anchor is None else value * _weight(at - anchor, half_life)


def apply_activity(state: Mapping[str, Any] | None, activity: Any, rules: RuleSet, *,
                   keep_periods: int = KEEP_PERIODS) -> dict[str, Any]:
    """A new state with one more activity (the given state is not changed). O(1) in the history's length."""
    state = new_state(rules) if state is None else state
    _check(state, rules)
    type_, url, ts, attributes = _activity(activity)
    out = dict(state)
    out["n"] = state["n"] + 1
    out["latest"] = ts if state["latest"] is None else max(state["latest"], ts)
    rule = rules.behaviour_rule(type_, url, attributes)
    if rule is None:
        return out
    old = state["rules"].get(rule.id)
    entry: dict[str, Any] = {"n": 0, "counted": 0.0, "acc": [0.0, None], "dropped": 0} if old is None else dict(old)
    entry["n"] += 1
    h = rule.half_life_days
    if rule.cap is None:
        entry["counted"] += rule.points
        entry["acc"] = _acc_add(entry["acc"], rule.points, ts, h)
    else:
        window = rule.cap.bucket(ts, rules.utc_offset)
        newest = entry.get("newest")
        if newest is not None and window <= newest - keep_periods:
            entry["dropped"] += 1
            out["dropped"] = state.get("dropped", 0) + 1
        else:
            buckets = dict(entry.get("buckets", {}))
            n, value, anchor = buckets.get(str(window), (0, 0.0, None))
            buckets[str(window)] = [n + 1, *_acc_add([value, anchor], rule.points, ts, h)]
            newest = window if newest is None else max(newest, window)
            for key in [k for k in buckets if int(k) <= newest - keep_periods]:
                n, value, anchor = buckets.pop(key)
                share = _cap_share(rule, n)
                entry["counted"] += rule.points * share * n
                entry["acc"] = _acc_add(entry["acc"], value * share, anchor, h)
            entry["buckets"], entry["newest"] = buckets, newest
    out["rules"] = {**state["rules"], rule.id: entry}
    return out


def build_state(activities: Iterable[Any], rules: RuleSet, *, keep_periods: int = KEEP_PERIODS) -> dict[str, Any]:
    """The state of a history, its activities applied in time order (so nothing is dropped)."""
    state = new_state(rules)
    for activity in sorted(activities, key=lambda a: _activity(a)[2]):
        state = apply_activity(state, activity, rules, keep_periods=keep_periods)
    return state


def behaviour_from_state(state: Mapping[str, Any], rules: RuleSet, now: datetime) -> list[BehaviourTotal]:
    _check(state, rules)
    now_ts = _timestamp(now, "now")
    at = now_ts if state["latest"] is None else max(now_ts, state["latest"])
    totals = []
    for rule in rules.behaviour_in_order(state["rules"]):  # the rules that took an activity, in file order
        entry = state["rules"][rule.id]
        if not entry:
            continue
        h = rule.half_life_days
        counted, points = entry["counted"], _acc_at(entry["acc"], at, h)
        for n, value, anchor in entry.get("buckets", {}).values():
            share = _cap_share(rule, n)
            counted += rule.points * share * n
            points += share * _acc_at([value, anchor], at, h)
        totals.append(BehaviourTotal(rule, entry["n"], counted, points, entry.get("dropped", 0)))
    return totals


def evaluate_state(lead: Mapping[str, Any], state: Mapping[str, Any] | None, rules: RuleSet, now: datetime,
                   probability: float | None = None) -> Score:
    """The score of a lead from its behaviour state, as of `now`: O(number of rules)."""
    state = new_state(rules) if state is None else state
    return _score(lead, behaviour_from_state(state, rules, now), rules, now, probability)


# ------------------------------------------------------------------------------------------- BANT

_NEGATIVE_PREFIXES = ("无", "没", "暂无", "暂时没", "不", "否", "未", "待定", "no ", "none", "not ", "n/a", "unknown", "tbd")
_AUTHORITY_WORDS = ("决策", "拍板", "签字", "签批", "老板", "负责人", "decision", "decider", "signer", "budget holder", "owner")
_SOON_WORDS = ("立即", "马上", "尽快", "立刻", "近期", "本月", "这个月", "下月", "下个月", "本季度", "这个季度", "急",
               "asap", "immediately", "soon", "this month", "next month", "this quarter")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?|[一二两三四五六七八九十半]+)\s*个?\s*"
    r"(天|日|周|星期|礼拜|月|季度|年|days?|weeks?|months?|quarters?|years?)", re.IGNORECASE)
_UNIT_MONTHS = {"天": 1 / 30, "日": 1 / 30, "day": 1 / 30, "周": 7 / 30, "星期": 7 / 30, "礼拜": 7 / 30, "week": 7 / 30,
                "月": 1, "month": 1, "季度": 3, "quarter": 3, "年": 12, "year": 12}
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*(\d{1,2}))?")
_AMOUNT = re.compile(r"\d+(?:\.\d+)?")


def _cn_number(text: str) -> float | None:
    if text == "半":
        return 0.5
    if "十" in text:
        tens, _, units = text.partition("十")
        return float(_CN_DIGITS.get(tens, 1) * 10 + _CN_DIGITS.get(units, 0)) if len(text) <= 3 else None
    return float(_CN_DIGITS[text]) if text in _CN_DIGITS else None


def _duration_months(text: str) -> float | None:
    m = _DURATION.search(text)
    if not m:
        return None
    amount = to_number(m.group(1))
    amount = amount if amount is not None else _cn_number(m.group(1))
    unit = m.group(2).lower().rstrip("s")
    return None if amount is None else amount * _UNIT_MONTHS[unit]


def _months_until(target: date, now: datetime | None) -> float | None:
    if now is None:
        return None
    return (target - now.date()).days / 30.44


def _timeline_positive(value: Any, months: float, now: datetime | None) -> bool | None:
    if isinstance(value, datetime | date):
        until = _months_until(value.date() if isinstance(value, datetime) else value, now)
        return None if until is None else until <= months
    if isinstance(value, str):
        m = _DATE.search(value)
        if m:
            try:
                until = _months_until(date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)), now)
            except ValueError:
                until = None
            return None if until is None else until <= months
        duration = _duration_months(value)
        if duration is None:
            duration = to_number(value)  # a bare number is a count of months
        if duration is not None:
            return 0 <= duration <= months
    return None


def bant_positive(key: str, value: Any, *, timeline_months: float = 3.0, now: datetime | None = None) -> bool:
    """Whether one BANT answer is positive.

    Any answer: true; a number > 0 (timeline: a number of months from 0 to `timeline_months`); a yes-word
    (是, 有, 对, 确定, yes, true, confirmed, ok, 1). Never: blank, false, 0, or a text starting with a negation
    (无, 没有, 暂无, 不, 否, 未, 待定, no, none, unknown). Then by key:
    budget — a text with an amount > 0 ("50万", "不超过30万") or starting with 有/已 ("已有预算");
    authority — mentions a decision role (决策人, 拍板, 签字, 老板, 负责人, decision maker);
    need — any other non-empty description ("需要替换现有CRM");
    timeline — a duration within `timeline_months` ("3个月内", "两周", a bare number of months; "半年" is
    not), a date within that many months of `now` (or past), or a word of urgency (立即, 尽快, 本月, 下个月,
    本季度, asap).
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return False
        return 0 <= value <= timeline_months if key == "timeline" else value > 0
    if key == "timeline":
        decided = _timeline_positive(value, timeline_months, now)
        if decided is not None:
            return decided
    if not isinstance(value, str):
        return False
    text = normalize(value)
    if not text:
        return False
    if key == "budget" and any(float(a) > 0 for a in _AMOUNT.findall(text)):
        return True
    if text in FALSE_WORDS or text.startswith(_NEGATIVE_PREFIXES):
        return False
    if text in TRUE_WORDS:
        return True
    if key == "budget":
        return text.startswith(("有", "已"))
    if key == "authority":
        return any(w in text for w in _AUTHORITY_WORDS)
    if key == "need":
        return True
    if key == "timeline":
        return any(w in text for w in _SOON_WORDS)
    return False


def bant_answers(bant: Any, *, timeline_months: float = 3.0, now: datetime | None = None) -> tuple[str, ...]:
    """The positive BANT answers of a lead's `bant` mapping, in B-A-N-T order."""
    if not bant or not is_mapping(bant):
        return ()
    return tuple(k for k in BANT_KEYS if bant_positive(k, bant.get(k), timeline_months=timeline_months, now=now))


# ------------------------------------------------------------------------------------------- score


def _r2(x: float) -> float:
    return round(x, 2) + 0.0  # + 0.0: no "-0.0"


def _behaviour_detail(total: BehaviourTotal) -> str:
    rule = total.rule
    explain, cap, half_life = rule.detail_parts
    text = f"{total.count}× {explain}: {_r2(total.counted):g} pts counted{cap}"
    if half_life:
        text += f", {_r2(total.points):g} after decay{half_life}"
    if total.dropped:
        text += f"; {total.dropped} too late to count (re-evaluate from history)"
    return text


@dataclass(frozen=True)
class FitResult:
    """What the fit rules (客户画像) say of a lead: it depends on the lead's fields alone, not on time or
    behaviour, so it can be kept while only activities change."""

    factors: tuple[Factor, ...]
    points: float
    disqualifiers: tuple[Any, ...]


def fit(lead: Mapping[str, Any], rules: RuleSet) -> FitResult:
    """The fit rules that match the lead (remembered by the rule set for the same fields)."""
    try:
        key = _FIELDS_KEY.encode(lead)
    except (TypeError, ValueError, msgspec.EncodeError):
        return _fit(lead, rules)
    memo = rules.fit_memo
    found = memo.get(key)
    if found is None:
        if len(memo) >= FIT_MEMO_SIZE:
            memo.clear()  # crude, but bounded; a refill costs one evaluation per lead
        found = memo[key] = _fit(lead, rules)
    return found  # type: ignore[no-any-return]


FIT_MEMO_SIZE = 50_000
# A lead's fields as canonical JSON (keys sorted): the memo's key, a tenth of the json module's cost.
_FIELDS_KEY = msgspec.json.Encoder(enc_hook=str, order="sorted")


def _fit(lead: Mapping[str, Any], rules: RuleSet) -> FitResult:
    factors, total, disqualifiers = [], 0.0, []
    for rule in rules.fit:
        if rule.when.matches(lead):
            if rule.disqualify is not None:
                disqualifiers.append(rule)
            else:
                factors.append(Factor(f"fit:{rule.id}", _r2(rule.points), rule.explain()))
                total += rule.points
    return FitResult(tuple(factors), total, tuple(disqualifiers))


def _score(lead: Mapping[str, Any], behaviour: list[BehaviourTotal], rules: RuleSet, now: datetime,
           probability: float | None) -> Score:
    if probability is not None and not (isinstance(probability, int | float) and 0 <= probability <= 1):
        raise ValueError(f"probability must be in [0, 1], got {probability!r}")
    fitted = fit(lead, rules)
    factors, total, disqualifiers = list(fitted.factors), fitted.points, fitted.disqualifiers
    for bt in behaviour:
        factors.append(Factor(f"behaviour:{bt.rule.id}", _r2(bt.points), _behaviour_detail(bt), bt.count))
        total += bt.points
    bant = lead.get("bant")
    positive = bant_answers(bant, timeline_months=rules.bant.timeline_months, now=now) if bant else ()
    if positive or bant and is_mapping(bant):
        bant_points = len(positive) * rules.bant.points_per_positive
        factors.append(Factor("bant", _r2(bant_points),
                              f"{len(positive)}/4 positive" + (f": {', '.join(positive)}" if positive else "")))
        total += bant_points
    clamped = total
    if rules.max_points is not None and clamped > rules.max_points:
        clamped = rules.max_points
        factors.append(Factor("limit:max", _r2(clamped - total), f"rules' score capped at {rules.max_points:g}"))
    if rules.min_points is not None and clamped < rules.min_points:
        clamped = rules.min_points
        factors.append(Factor("limit:min", _r2(clamped - total), f"rules' score floored at {rules.min_points:g}"))
    combined = clamped
    mode, w = rules.combine.mode, rules.combine.weight
    if probability is not None and mode != "rules":
        predictive = 100.0 * probability
        if mode == "blend":
            combined = (1 - w) * clamped + w * predictive
            detail = f"blend: {1 - w:g} × rules {_r2(clamped):g} + {w:g} × 100 × p {probability:.3f}"
        else:
            combined = predictive
            detail = f"probability mode: 100 × p {probability:.3f} replaces rules {_r2(clamped):g}"
        factors.append(Factor("predictive", _r2(combined - clamped), detail))

    if disqualifiers:
        first = disqualifiers[0]
        for i, rule in enumerate(disqualifiers):
            factors.append(Factor(f"disqualify:{rule.id}", _r2(-combined) if i == 0 else 0.0,
                                  f"disqualified: {rule.disqualify}"))
        return Score(points=0.0, grade="D", stage=Stage.disqualified, rules_version=rules.version, factors=factors,
                     probability=probability, bant_positive=len(positive), disqualified_by=first.id)

    points = round(combined, 1) + 0.0
    q = rules.qualification
    mql = points >= q.mql_score or (q.bant_min_positive is not None and len(positive) >= q.bant_min_positive)
    return Score(points=points, grade=rules.grades.grade(points), stage=Stage.mql if mql else Stage.nurture,
                 rules_version=rules.version, factors=factors, probability=probability,
                 bant_positive=len(positive))
