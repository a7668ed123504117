"""Scoring with a rule set: fit, behaviour (caps, decay), BANT, grades, stages, explanation, combination,
and the incremental path agreeing with the full-history one."""

from __future__ import annotations

import json
import random
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from leadflow_scoring.domain.model import Stage
from leadflow_scoring.domain.rules_yaml import load_default_rules, load_rules_yaml
from leadflow_scoring.domain.scoring import (
    Activity,
    StateVersionError,
    apply_activity,
    bant_answers,
    bant_positive,
    build_state,
    evaluate,
    evaluate_state,
    new_state,
)

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)  # a Wednesday
BEIJING = timezone(timedelta(hours=8))


def rules_of(text: str):
    return load_rules_yaml(textwrap.dedent(text))


def act(type_: str, days_ago: float = 0.0, url: str | None = None, **attributes: Any) -> Activity:
    return Activity(type_, NOW - timedelta(days=days_ago), url, attributes)


def factor(score, rule: str):
    return next(f for f in score.factors if f.rule == rule)


def factor_sum(score) -> float:
    return sum(f.points for f in score.factors)


RULES = rules_of("""
    version: "test-1"
    grades: {A: 80, B: 60, C: 40}
    qualification: {mql_score: 60, bant_min_positive: 2}
    decay: {half_life_days: 14}
    fit:
      - id: student
        when: {field: title, contains: [学生, 求职]}
        disqualify: 画像不符
      - id: do_not_contact
        when:
          all:
            - {field: consent.do_not_call, equals: true}
            - {field: consent.do_not_email, equals: true}
        disqualify: true
      - id: software
        when: {field: industry, equals: 软件和信息技术服务业}
        points: 20
      - id: director
        when: {field: title, contains: [总监, VP]}
        points: 15
      - id: public_sector
        when: {field: industry, equals: 公共管理、社会保障和社会组织}
        points: -10
      - id: tiny
        when: {field: employees, lt: 10}
        points: -15
    behaviour:
      - id: pricing
        type: page_view
        url: "*/pricing*"
        points: 10
        cap: {points: 15, period: 7d}
      - id: page
        type: page_view
        points: 1
        cap: {points: 3, period: 1d}
      - id: demo
        type: demo_request
        points: 30
      - id: webinar
        type: event_attended
        points: 10
        decay: false
      - id: unsubscribe
        type: unsubscribe
        points: -20
        cap: {points: 20, period: 30d}
""")

SOFTWARE_DIRECTOR = {"title": "市场总监", "industry": "软件和信息技术服务业", "company_name": "杭州某某科技有限公司"}


# ------------------------------------------------------------------------------------------- fit


def test_fit_rules_add_up_including_negative_points() -> None:
    score = evaluate(SOFTWARE_DIRECTOR, [], RULES, NOW)
    assert (score.points, score.grade, score.stage) == (35.0, "D", Stage.nurture)
    assert [(f.rule, f.points) for f in score.factors] == [("fit:software", 20), ("fit:director", 15)]
    lead = {"title": "信息中心总监", "industry": "公共管理、社会保障和社会组织", "employees": 8}
    score = evaluate(lead, [act("demo_request")], RULES, NOW)
    assert [(f.rule, f.points) for f in score.factors] == [
        ("fit:director", 15), ("fit:public_sector", -10), ("fit:tiny", -15), ("behaviour:demo", 30)]
    assert score.points == 20.0


def test_the_score_is_clamped_to_the_limits_and_the_explanation_says_so() -> None:
    score = evaluate({"industry": "公共管理、社会保障和社会组织", "employees": 3}, [], RULES, NOW)
    assert score.points == 0.0
    assert factor(score, "limit:min").points == 25.0 and factor_sum(score) == 0.0
    many = [act("demo_request", d) for d in (0, 0.1, 0.2, 0.3)]
    score = evaluate(SOFTWARE_DIRECTOR, many, RULES, NOW)
    assert score.points == 100.0 and factor(score, "limit:max").detail == "rules' score capped at 100"
    assert factor_sum(score) == pytest.approx(100.0, abs=0.02)


# ---------------------------------------------------------------------------------- disqualifiers


def test_a_disqualifier_beats_everything_and_is_named() -> None:
    lead = {**SOFTWARE_DIRECTOR, "title": "在校学生 / 求职", "bant": {"budget": "50万", "authority": "是", "need": "是"}}
    score = evaluate(lead, [act("demo_request"), act("page_view", url="https://a.cn/pricing")], RULES, NOW,
                     probability=0.99)
    assert (score.points, score.grade, score.stage) == (0.0, "D", Stage.disqualified)
    assert score.disqualified_by == "student" and score.bant_positive == 3
    last = score.factors[-1]
    assert last.rule == "disqualify:student" and last.detail == "disqualified: 画像不符"
    assert factor_sum(score) == pytest.approx(0.0, abs=0.02)


@pytest.mark.parametrize(("consent", "disqualified"), [
    ({"do_not_call": True, "do_not_email": True}, True),
    ({"do_not_call": True, "do_not_email": False}, False),
    ({"do_not_call": True}, False),
    ({}, False),
])
def test_do_not_contact_needs_both_refusals(consent: dict, disqualified: bool) -> None:
    score = evaluate({**SOFTWARE_DIRECTOR, "consent": consent}, [], RULES, NOW)
    assert (score.stage == Stage.disqualified) is disqualified
    if disqualified:
        assert score.disqualified_by == "do_not_contact" and score.factors[-1].detail == "disqualified: do_not_contact"


# -------------------------------------------------------------------------------------- caps


def test_a_cap_limits_a_rule_per_calendar_window() -> None:
    week = [act("page_view", d, "https://a.cn/pricing") for d in (0, 0.5, 1)]  # Mon–Wed of one week
    score = evaluate({}, week, RULES, NOW)
    pricing = factor(score, "behaviour:pricing")
    assert pricing.count == 3 and "15 pts counted (cap 15/7d)" in pricing.detail
    last_week = [act("page_view", 7, "https://a.cn/pricing")]
    both = evaluate({}, week + last_week, RULES, NOW)
    assert "25 pts counted" in factor(both, "behaviour:pricing").detail


def test_cap_windows_follow_the_rules_timezone() -> None:
    """Sunday 23:30 and Monday 00:30 in Beijing are both Sunday in UTC, but two calendar weeks in Beijing."""
    sunday = datetime(2025, 6, 1, 23, 30, tzinfo=BEIJING)
    monday = datetime(2025, 6, 2, 0, 30, tzinfo=BEIJING)
    views = [Activity("page_view", t, "https://a.cn/pricing") for t in (sunday, sunday, monday, monday)]
    rules = rules_of("""
        version: v
        behaviour:
          - {id: pricing, type: page_view, url: "*/pricing*", points: 10, cap: {points: 15, period: 7d}}
    """)
    assert "30 pts counted" in factor(evaluate({}, views, rules, monday), "behaviour:pricing").detail
    utc = rules_of("""
        version: v
        timezone: UTC
        behaviour:
          - {id: pricing, type: page_view, url: "*/pricing*", points: 10, cap: {points: 15, period: 7d}}
    """)
    assert "15 pts counted" in factor(evaluate({}, views, utc, monday), "behaviour:pricing").detail


def test_a_negative_rule_is_capped_on_its_size() -> None:
    score = evaluate(SOFTWARE_DIRECTOR, [act("unsubscribe", d) for d in (0, 1, 2)], RULES, NOW)
    assert "-20 pts counted (cap 20/30d)" in factor(score, "behaviour:unsubscribe").detail


def test_within_a_full_window_every_activity_counts_the_same_share() -> None:
    """4 pricing views in a window capped at 15 count 15/40 of their points each: independent of their order."""
    views = [act("page_view", d, "https://a.cn/pricing") for d in (0, 1)] + [act("page_view", 1.5, "https://a.cn/pricing")] * 2
    score = evaluate({}, views, RULES, NOW)
    expected = sum(10 * 15 / 40 * 0.5 ** (d / 14) for d in (0, 1, 1.5, 1.5))
    assert factor(score, "behaviour:pricing").points == round(expected, 2)


# ------------------------------------------------------------------------------------- decay


def test_behaviour_points_halve_every_half_life_and_fit_points_do_not_decay() -> None:
    def demo_points(days_ago: float) -> float:
        return factor(evaluate(SOFTWARE_DIRECTOR, [act("demo_request", days_ago)], RULES, NOW), "behaviour:demo").points

    assert (demo_points(0), demo_points(14), demo_points(28), demo_points(7)) == (30.0, 15.0, 7.5, 21.21)
    later = evaluate(SOFTWARE_DIRECTOR, [act("demo_request", 0)], RULES, NOW + timedelta(days=14))
    assert later.points == 35 + 15  # the clock is injected: the same history, scored later


def test_a_rule_may_opt_out_of_decay() -> None:
    score = evaluate({}, [act("event_attended", 300)], RULES, NOW)
    assert factor(score, "behaviour:webinar").points == 10.0
    assert "decay" not in factor(score, "behaviour:webinar").detail


def test_an_activity_in_the_future_counts_at_full_weight_and_ages_from_there() -> None:
    """Clock skew: ages are measured to max(now, latest activity); no activity counts more than its points."""
    score = evaluate({}, [act("demo_request", -1), act("demo_request", 13)], RULES, NOW)
    assert factor(score, "behaviour:demo").points == 45.0


def test_a_nurtured_lead_climbs_while_engaging_and_sinks_when_quiet() -> None:
    """养鱼: weekly engagement for six weeks, then silence."""
    lead = {"title": "运营经理", "industry": "软件和信息技术服务业"}  # fit 20
    history: list[Activity] = []
    start = NOW - timedelta(days=120)
    climbing = []
    for week in range(6):
        day = start + timedelta(weeks=week)
        history += [Activity("page_view", day, "https://a.cn/pricing"), Activity("page_view", day, "https://a.cn/blog"),
                    Activity("event_attended", day) if week == 3 else Activity("page_view", day, "https://a.cn/case")]
        climbing.append(evaluate(lead, history, RULES, day + timedelta(hours=1)))
    assert [s.points for s in climbing] == sorted(s.points for s in climbing)
    assert climbing[-1].points > climbing[0].points + 15
    quiet = [evaluate(lead, history, RULES, start + timedelta(weeks=5, days=d)) for d in (7, 28, 56, 112)]
    assert [s.points for s in quiet] == sorted((s.points for s in quiet), reverse=True)
    assert quiet[-1].points < climbing[-1].points - 10
    assert quiet[-1].points >= 30  # fit (20) and the webinar (no decay, 10) stay

    history.append(Activity("demo_request", start + timedelta(weeks=5, days=112)))  # wakes up
    back = evaluate(lead, history, RULES, start + timedelta(weeks=5, days=112, hours=1))
    assert back.stage == Stage.mql and quiet[-1].stage == Stage.nurture


# ---------------------------------------------------------------------------------------- BANT


@pytest.mark.parametrize(("key", "value", "positive"), [
    ("budget", True, True), ("budget", False, False), ("budget", None, False), ("budget", "", False),
    ("budget", 500000, True), ("budget", 0, False), ("budget", "50万", True), ("budget", "不超过30万", True),
    ("budget", "有", True), ("budget", "已有预算", True), ("budget", "是", True), ("budget", "yes", True),
    ("budget", "无", False), ("budget", "暂无预算", False), ("budget", "0元", False), ("budget", "不确定", False),
    ("authority", "是", True), ("authority", "决策人", True), ("authority", "可以拍板", True),
    ("authority", "decision maker", True), ("authority", "需要上级审批", False), ("authority", "否", False),
    ("need", "需要替换现有CRM", True), ("need", "没有需求", False), ("need", "暂无", False), ("need", "unknown", False),
    ("timeline", "3个月内", True), ("timeline", "三个月内", True), ("timeline", "两周内上线", True),
    ("timeline", "半年内", False), ("timeline", "明年", False), ("timeline", "未来3个月", True),
    ("timeline", "1 month", True), ("timeline", "6 months", False), ("timeline", "立即", True),
    ("timeline", "尽快", True), ("timeline", "本季度", True), ("timeline", "下个月", True), ("timeline", 2, True),
    ("timeline", 12, False), ("timeline", "2", True), ("timeline", "12", False), ("timeline", "2025-08-01", True), ("timeline", "2026-01-01", False),
    ("timeline", "2025年7月", True), ("timeline", "待定", False), ("timeline", "是", True),
])
def test_what_counts_as_a_positive_bant_answer(key: str, value: Any, positive: bool) -> None:
    assert bant_positive(key, value, timeline_months=3, now=NOW) is positive


def test_bant_answers_lists_the_positive_ones_in_order() -> None:
    bant = {"timeline": "1个月", "need": "需要", "budget": "无", "authority": True}
    assert bant_answers(bant, now=NOW) == ("authority", "need", "timeline")
    assert bant_answers(None) == () and bant_answers("yes") == ()


@pytest.mark.parametrize(("min_positive", "bant", "stage"), [
    (2, {"budget": "50万", "timeline": "3个月内"}, Stage.mql),
    (2, {"budget": "50万", "timeline": "明年"}, Stage.nurture),
    (1, {"budget": "50万", "timeline": "明年"}, Stage.mql),  # loose
    (1, {"budget": "无", "need": "暂无"}, Stage.nurture),
    ("null", {"budget": 1, "authority": 1, "need": 1, "timeline": 1}, Stage.nurture),  # BANT alone never qualifies
])
def test_bant_qualifies_strictly_or_loosely(min_positive: object, bant: dict, stage: Stage) -> None:
    rules = rules_of(f"""
        version: v
        qualification: {{mql_score: 60, bant_min_positive: {min_positive}}}
        fit:
          - {{id: software, when: {{field: industry, equals: 软件和信息技术服务业}}, points: 20}}
    """)
    score = evaluate({"industry": "软件和信息技术服务业", "bant": bant}, [], rules, NOW)
    assert score.stage == stage and score.points == 20.0
    assert score.bant_positive == len(bant_answers(bant, now=NOW))


def test_bant_answers_can_earn_points_and_are_explained() -> None:
    rules = rules_of("""
        version: v
        bant: {points_per_positive: 5}
        fit: []
    """)
    score = evaluate({"bant": {"budget": "50万", "need": "需要", "authority": "否"}}, [], rules, NOW)
    assert factor(score, "bant").points == 10 and factor(score, "bant").detail == "2/4 positive: budget, need"
    assert score.points == 10.0 and score.stage == Stage.mql
    assert not [f for f in evaluate({}, [], rules, NOW).factors if f.rule == "bant"]


# -------------------------------------------------------------------------------- grades, stages


@pytest.mark.parametrize(("points", "grade", "stage"), [
    (100, "A", Stage.mql), (80, "A", Stage.mql), (79.9, "B", Stage.mql), (79.96, "A", Stage.mql),
    (60, "B", Stage.mql), (59.9, "C", Stage.nurture), (40, "C", Stage.nurture), (39.9, "D", Stage.nurture),
    (0, "D", Stage.nurture),
])
def test_grade_and_stage_boundaries(points: float, grade: str, stage: Stage) -> None:
    rules = rules_of(f"""
        version: v
        fit:
          - {{id: all, when: {{field: name, exists: true}}, points: {points}}}
    """)
    score = evaluate({"name": "张三"}, [], rules, NOW)
    assert (score.grade, score.stage) == (grade, stage)
    assert score.points == round(points, 1)


# ------------------------------------------------------------------------------------ explanation


def test_every_score_carries_its_explanation() -> None:
    lead = {**SOFTWARE_DIRECTOR, "bant": {"budget": "50万"}}
    activities = [act("page_view", 14, "https://a.cn/pricing"), act("page_view", 0, "https://a.cn/"),
                  act("demo_request", 0), act("trial_signup", 0)]  # no rule takes trial_signup
    score = evaluate(lead, activities, RULES, NOW)
    assert score.rules_version == "test-1"
    assert [f.as_dict() for f in score.factors] == score.explanation() == [
        {"rule": "fit:software", "points": 20.0, "detail": "industry equals 软件和信息技术服务业"},
        {"rule": "fit:director", "points": 15.0, "detail": "title contains 总监|VP"},
        {"rule": "behaviour:pricing", "points": 5.0,
         "detail": "1× page_view url */pricing*: 10 pts counted (cap 15/7d), 5 after decay (half-life 14d)"},
        {"rule": "behaviour:page", "points": 1.0,
         "detail": "1× page_view: 1 pts counted (cap 3/1d), 1 after decay (half-life 14d)"},
        {"rule": "behaviour:demo", "points": 30.0,
         "detail": "1× demo_request: 30 pts counted, 30 after decay (half-life 14d)"},
        {"rule": "bant", "points": 0.0, "detail": "1/4 positive: budget"},
    ]
    assert [f.count for f in score.factors[2:5]] == [1, 1, 1]
    assert (score.points, score.grade, score.stage, score.bant_positive) == (71.0, "B", Stage.mql, 1)
    rule, points = score.factors[0]  # a factor unpacks as the (rule, points) pair it used to be
    assert (rule, points) == ("fit:software", 20.0)


# ------------------------------------------------------------------------------------ combination


def combining(mode: str, weight: float = 0.4):
    return rules_of(f"""
        version: v
        combine: {{mode: {mode}, weight: {weight}}}
        fit:
          - {{id: all, when: {{field: name, exists: true}}, points: 50}}
    """)


@pytest.mark.parametrize(("mode", "probability", "points", "grade", "predictive"), [
    ("rules", 0.9, 50.0, "C", None),
    ("rules", None, 50.0, "C", None),
    ("blend", 0.9, 66.0, "B", 16.0),  # 0.6 × 50 + 0.4 × 90
    ("blend", 0.0, 30.0, "D", -20.0),
    ("blend", None, 50.0, "C", None),  # no probability: rules alone
    ("probability", 0.85, 85.0, "A", 35.0),
    ("probability", None, 50.0, "C", None),
])
def test_combination_with_a_predictive_probability(mode: str, probability: float | None, points: float, grade: str,
                                                   predictive: float | None) -> None:
    score = evaluate({"name": "李四"}, [], combining(mode), NOW, probability=probability)
    assert (score.points, score.grade, score.probability) == (points, grade, probability)
    found = [f for f in score.factors if f.rule == "predictive"]
    assert [f.points for f in found] == ([predictive] if predictive is not None else [])
    assert factor_sum(score) == pytest.approx(points)


def test_the_blend_is_explained_and_a_probability_must_be_one() -> None:
    score = evaluate({"name": "李四"}, [], combining("blend"), NOW, probability=0.9)
    assert factor(score, "predictive").detail == "blend: 0.6 × rules 50 + 0.4 × 100 × p 0.900"
    for bad in (1.2, -0.1, float("nan")):
        with pytest.raises(ValueError, match="probability must be in"):
            evaluate({}, [], combining("blend"), NOW, probability=bad)


# ------------------------------------------------------------------------------------ incremental

PROPERTY_RULES = rules_of("""
    version: "prop-1"
    decay: {half_life_days: 10}
    fit:
      - {id: vip, when: {field: title, contains: CEO}, points: 20}
    behaviour:
      - {id: pricing, type: page_view, url: "*/pricing*", points: 7, cap: {points: 15, period: 7d}}
      - {id: page, type: page_view, points: 1, cap: {points: 3, period: 1d}}
      - {id: demo, type: demo_request, points: 30}
      - {id: call, type: call_connected, when: {field: attributes.seconds, gte: 60}, points: 8, cap: {points: 16, period: 12h}}
      - {id: read, type: wechat_article_read, points: 2, decay: false, cap: {points: 5, period: 2w}}
      - {id: unsub, type: unsubscribe, points: -20, cap: {points: 20, period: 30d}, decay: {half_life_days: 60}}
      - {id: webinar, type: event_attended, points: 10, decay: false}
""")
START = NOW - timedelta(days=200)
KINDS = [("page_view", "https://a.cn/pricing"), ("page_view", "https://a.cn/blog"), ("demo_request", None),
         ("call_connected", None), ("wechat_article_read", None), ("unsubscribe", None), ("event_attended", None),
         ("email_open", None)]

activity_specs = st.lists(
    st.tuples(st.sampled_from(range(len(KINDS))), st.integers(0, 200 * 86400), st.integers(0, 120)),
    max_size=40,
)


def make(spec: tuple[int, int, int]) -> Activity:
    kind, second, seconds = spec
    type_, url = KINDS[kind]
    return Activity(type_, START + timedelta(seconds=second), url, {"seconds": seconds})


def assert_same(a, b) -> None:
    assert (a.grade, a.stage, a.rules_version, a.bant_positive) == (b.grade, b.stage, b.rules_version, b.bant_positive)
    assert a.points == pytest.approx(b.points, abs=0.11)
    assert [(f.rule, f.count) for f in a.factors] == [(f.rule, f.count) for f in b.factors]
    assert [f.points for f in a.factors] == pytest.approx([f.points for f in b.factors], abs=0.011)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(specs=activity_specs, later=st.integers(0, 60 * 86400), ceo=st.booleans(),
       probability=st.none() | st.floats(0, 1))
def test_incremental_and_full_history_agree(specs: list, later: int, ceo: bool, probability: float | None) -> None:
    activities = sorted((make(s) for s in specs), key=lambda a: a.occurred_at)
    lead = {"title": "CEO" if ceo else "工程师"}
    now = (activities[-1].occurred_at if activities else START) + timedelta(seconds=later)
    state = new_state(PROPERTY_RULES)
    for i, activity in enumerate(activities):
        state = apply_activity(state, activity, PROPERTY_RULES)
        if i == len(activities) // 2:
            state = json.loads(json.dumps(state))  # the state is plain JSON
    full = evaluate(lead, activities, PROPERTY_RULES, now, probability)
    assert_same(evaluate_state(lead, state, PROPERTY_RULES, now, probability), full)
    assert_same(evaluate_state(lead, build_state(reversed(activities), PROPERTY_RULES), PROPERTY_RULES, now,
                               probability), full)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(specs=st.lists(st.tuples(st.sampled_from(range(len(KINDS))), st.integers(0, 3 * 86400), st.integers(0, 120)),
                      max_size=30),
       seed=st.integers(0, 2**32))
def test_out_of_order_activities_within_the_kept_windows_are_exact(specs: list, seed: int) -> None:
    """Arrival order does not matter while activities land within the last `keep_periods` (8) windows of their
    rule (3 days: at most 7 windows of the 12h cap)."""
    activities = [make(s) for s in specs]
    random.Random(seed).shuffle(activities)
    state = None
    for activity in activities:
        state = apply_activity(state, activity, PROPERTY_RULES)
    now = START + timedelta(days=5)
    assert_same(evaluate_state({}, state, PROPERTY_RULES, now), evaluate({}, activities, PROPERTY_RULES, now))
    if activities:
        assert state["dropped"] == 0 and state["n"] == len(activities)


def test_a_capped_activity_later_than_the_kept_windows_is_dropped_and_said_so() -> None:
    state = build_state([act("page_view", 0, "https://a.cn/pricing")], RULES)
    state = apply_activity(state, act("page_view", 70, "https://a.cn/pricing"), RULES)  # 10 weeks late
    assert state["dropped"] == 1
    score = evaluate_state({}, state, RULES, NOW)
    pricing = factor(score, "behaviour:pricing")
    assert pricing.count == 2 and "1 too late to count (re-evaluate from history)" in pricing.detail
    assert pricing.points == 10.0
    # an uncapped rule is exact whatever the lateness
    late = apply_activity(build_state([act("demo_request", 0)], RULES), act("demo_request", 70), RULES)
    assert evaluate_state({}, late, RULES, NOW).points == evaluate({}, [act("demo_request", d) for d in (0, 70)],
                                                                   RULES, NOW).points


def test_old_windows_are_folded_so_the_state_stays_small() -> None:
    views = [act("page_view", d, "https://a.cn/blog") for d in range(100, -1, -1)]
    state = build_state(views, RULES)
    assert len(state["rules"]["page"]["buckets"]) == 8
    assert len(json.dumps(state)) < 1000
    assert_same(evaluate_state({}, state, RULES, NOW), evaluate({}, views, RULES, NOW))


def test_apply_activity_returns_a_new_state() -> None:
    state = build_state([act("page_view", 1, "https://a.cn/pricing")], RULES)
    before = json.dumps(state, sort_keys=True)
    after = apply_activity(state, act("page_view", 0, "https://a.cn/pricing"), RULES)
    assert json.dumps(state, sort_keys=True) == before and after["n"] == 2
    unmatched = apply_activity(after, act("trial_signup"), RULES)
    assert unmatched["n"] == 3 and unmatched["rules"] == after["rules"]


def test_a_state_of_other_rules_is_refused() -> None:
    state = new_state(RULES)
    with pytest.raises(StateVersionError, match="rebuild it from the activity history"):
        evaluate_state({}, state, PROPERTY_RULES, NOW)
    with pytest.raises(StateVersionError):
        apply_activity(state, act("demo_request"), PROPERTY_RULES)
    assert evaluate_state({}, None, RULES, NOW).points == 0.0


def test_activities_may_be_mappings_or_contract_like_objects_with_aware_times() -> None:
    as_mapping = {"type": "demo_request", "occurred_at": "2025-06-04T12:00:00+00:00", "url": None}
    assert evaluate({}, [as_mapping], RULES, NOW).points == 30.0
    assert evaluate_state({}, apply_activity(None, as_mapping, RULES), RULES, NOW).points == 30.0
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate({}, [Activity("demo_request", datetime(2025, 6, 4))], RULES, NOW)
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        evaluate({}, [], RULES, datetime(2025, 6, 4))


# -------------------------------------------------------------------------------- default rules


def test_the_default_rules_score_a_sample_lead() -> None:
    rules = load_default_rules()
    lead = {
        "name": "王磊", "mobile": "+8613800138000", "email": "wang.lei@example-soft.cn",
        "company_name": "上海某某软件有限公司", "company_credit_code": "91310000MA1FL0000X", "title": "销售总监",
        "province": "上海", "city": "上海", "industry": "软件和信息技术服务业", "source": "website",
        "product_interest": "SCRM", "employees": 320, "registered_capital": "1000万元",
        "bant": {"budget": "30-50万", "authority": "需上报", "need": "替换现有CRM", "timeline": "明年"},
        "consent": {"do_not_call": False, "do_not_email": False}, "custom": {"sales_team_size": 40},
    }
    fit = evaluate(lead, [], rules, NOW)
    assert {f.rule for f in fit.factors} >= {"fit:industry_core", "fit:title_director", "fit:size_mid",
                                             "fit:registered_capital_large", "fit:large_sales_team", "bant"}
    assert fit.stage == Stage.mql and fit.bant_positive == 2  # budget + need
    activities = [act("page_view", 2, "https://www.example.cn/pricing?plan=pro"),
                  act("page_view", 2, "https://www.example.cn/customers/"), act("demo_request", 1)]
    engaged = evaluate(lead, activities, rules, NOW)
    assert engaged.grade == "A" and engaged.points > fit.points
    assert_same(evaluate_state(lead, build_state(activities, rules), rules, NOW), engaged)

    student = evaluate({**lead, "title": "应届生求职"}, activities, rules, NOW)
    assert student.stage == Stage.disqualified and student.disqualified_by == "persona_student_or_job_seeker"
    junior = evaluate({"title": "行政助理", "employees": 5, "email": "x@qq.com"}, [], rules, NOW)
    assert junior.points == 0.0 and junior.grade == "D" and junior.stage == Stage.nurture


def test_the_remembered_fit_follows_the_leads_fields_and_the_rules() -> None:
    from leadflow_scoring.domain.rules_yaml import load_default_rules
    from leadflow_scoring.domain.scoring import fit

    rules = load_default_rules()
    lead = {"title": "CTO", "industry": "制造业"}
    first = fit(lead, rules)
    assert fit(dict(lead), rules) is first  # same fields, same rules: remembered
    changed = fit({**lead, "title": "行政专员"}, rules)
    assert {f.rule for f in changed.factors} != {f.rule for f in first.factors}
    other_rules = load_default_rules()  # another rule set object: never served another's result
    assert fit(lead, other_rules) is not first and fit(lead, other_rules).factors == first.factors
