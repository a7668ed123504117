"""The rule set: YAML parsing, validation (every problem, with its path) and conditions."""

from __future__ import annotations

import textwrap

import pytest
from leadflow_scoring.domain.model import GradeThresholds
from leadflow_scoring.domain.rules import Problem, RulesError, to_number
from leadflow_scoring.domain.rules_yaml import (
    default_rules_text,
    load_default_rules,
    load_rules_yaml,
    parse_rules,
)


def load(text: str):
    return load_rules_yaml(textwrap.dedent(text))


def problems(text: str | object) -> dict[str, str]:
    with pytest.raises(RulesError) as caught:
        load(text) if isinstance(text, str) else parse_rules(text)
    return {p.path: p.message for p in caught.value.problems}


def condition(when: dict) -> object:
    return parse_rules({"version": "t", "fit": [{"id": "r", "when": when, "points": 1}]}).fit[0].when


MINIMAL = """
    version: "v1"
    fit:
      - id: software
        when: {field: industry, equals: 软件和信息技术服务业}
        points: 10
    behaviour:
      - id: demo
        type: demo_request
        points: 30
"""


# ------------------------------------------------------------------------------------- parsing


def test_a_minimal_rule_set_gets_the_documented_defaults() -> None:
    rules = load(MINIMAL)
    assert rules.version == "v1" and not rules.version_derived
    assert [r.id for r in rules.fit] == ["software"] and rules.fit[0].points == 10
    assert rules.behaviour[0].types == frozenset({"demo_request"})
    assert rules.grades == GradeThresholds(80, 60, 40)
    assert (rules.qualification.mql_score, rules.qualification.bant_min_positive) == (60, 2)
    assert (rules.combine.mode, rules.half_life_days, rules.min_points, rules.max_points) == ("rules", None, 0, 100)
    assert rules.utc_offset == 8 * 3600


def test_every_setting_is_read() -> None:
    rules = load("""
        version: "2025.1"
        description: 测试
        timezone: "-05:30"
        grades: {A: 90, B: 70, C: 50}
        qualification: {mql_score: 70, bant_min_positive: null}
        bant: {points_per_positive: 4, timeline_months: 6}
        decay: {half_life_days: 14}
        limits: {min: null, max: 120}
        combine: {mode: blend, weight: 0.4}
        behaviour:
          - id: pricing
            type: [page_view, page_visit]
            url: "*/pricing*"
            points: 10
            cap: {points: 15, period: 2w}
            decay: false
          - id: any
            type: "*"
            points: 1
            decay: {half_life_days: 3}
    """)
    assert rules.utc_offset == -(5 * 3600 + 30 * 60)
    assert rules.grades == GradeThresholds(90, 70, 50)
    assert rules.qualification.bant_min_positive is None and rules.bant.timeline_months == 6
    assert (rules.min_points, rules.max_points, rules.combine.weight) == (None, 120, 0.4)
    pricing, anything = rules.behaviour
    assert pricing.cap.points == 15 and pricing.cap.seconds == 14 * 86400 and pricing.half_life_days is None
    assert anything.types is None and anything.half_life_days == 3


def test_without_a_version_one_is_derived_from_the_content_not_its_formatting() -> None:
    text = MINIMAL.replace('version: "v1"', "# a comment")
    one, same = load(text), load(text.replace("points: 30", "points:    30   # reformatted"))
    other = load(text.replace("points: 30", "points: 31"))
    assert one.version_derived and one.version.startswith("sha256:") and len(one.version) == 19
    assert one.version == same.version != other.version


def test_first_matching_behaviour_rule_wins() -> None:
    rules = load("""
        version: v
        behaviour:
          - {id: pricing, type: page_view, url: "*/pricing*", points: 10}
          - {id: docs, type: page_view, url_regex: "/docs/", points: 2}
          - {id: long_call, type: call_connected, when: {field: attributes.duration, gte: 60}, points: 10}
          - {id: page, type: page_view, points: 1}
          - {id: other, type: "*", points: 0.5}
    """)
    rule = rules.behaviour_rule
    assert rule("page_view", "https://a.cn/PRICING?x=1").id == "pricing"
    assert rule("page_view", "https://a.cn/docs/pricing").id == "pricing"  # first in file order
    assert rule("page_view", "https://a.cn/docs/start").id == "docs"
    assert rule("page_view", None).id == "page"  # a url rule needs a url
    assert rule("call_connected", attributes={"duration": 75}).id == "long_call"
    assert rule("call_connected", attributes={"duration": 20}).id == "other"
    assert rule("my_custom_type").id == "other"
    assert load(MINIMAL).behaviour_rule("page_view") is None


def test_the_default_rules_load() -> None:
    rules = load_default_rules()
    assert rules.version == "cn-b2b-saas-2025.1"
    assert rules.grades == GradeThresholds(80, 60, 40) and rules.qualification.mql_score == 60
    assert {"persona_student_or_job_seeker", "do_not_contact"} <= {r.id for r in rules.fit if r.disqualify}
    assert rules.behaviour_rule("page_view", "https://www.example.cn/pricing").id == "pricing_page"
    assert rules.behaviour_rule("page_view", "https://www.example.cn/blog/x").id == "page_view"
    assert rules.behaviour_rule("unsubscribe").points < 0
    assert "软件和信息技术服务业" in default_rules_text()


# ---------------------------------------------------------------------------------- validation


def test_all_problems_are_reported_at_once_with_their_paths() -> None:
    found = problems("""
        version: "v"
        fit:
          - id: ok
            when: {field: title, contains: [总监]}
            points: 5
          - id: Bad Id
            when: {field: title, contians: 总监}
            points: lots
          - id: ok
            when: {feild: title, equals: CEO}
            points: 1
        behaviour:
          - id: b
            points: 3
            cap: {points: 0, period: 7days}
    """)
    assert found == {
        "fit[1].id": "must be 1-64 lower-case letters, digits, _ . - (starting with a letter or digit), got 'Bad Id'",
        "fit[1].when.contians": "unknown operator 'contians' (did you mean 'contains'?); operators: equals, in, "
                                "contains, regex, gt, gte, lt, lte, between, exists, missing",
        "fit[1].points": "must be a number, got a string 'lots'",
        "fit[2].when.field": "missing: the field to test, e.g. `field: title` (or all / any / not)",
        "fit[2].when.feild": "unknown operator 'feild' (did you mean 'field'?); operators: equals, in, contains, "
                             "regex, gt, gte, lt, lte, between, exists, missing",
        "fit[2].id": "duplicate id 'ok' (also fit[0]); ids must be unique",
        "behaviour[0].type": "missing: the activity type, e.g. page_view (a list of types, or \"*\" for any)",
        "behaviour[0].cap.points": "must be > 0, got 0",
        "behaviour[0].cap.period": "must be a positive count of hours, days or weeks such as 12h, 7d, 2w; got '7days'",
    }


def test_the_error_message_lists_every_problem() -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules({"version": "", "fit": "none"})
    assert caught.value.problems == [
        Problem("version", "must not be empty (omit it to derive one from the content)"),
        Problem("fit", "must be a list of rules, got a string"),
    ]
    assert str(caught.value) == ("2 problem(s) in the scoring rules:\n"
                                 "  - version: must not be empty (omit it to derive one from the content)\n"
                                 "  - fit: must be a list of rules, got a string")
    assert caught.value.problems[0].as_dict() == {"path": "version", "message": caught.value.problems[0].message}


@pytest.mark.parametrize(("doc", "path", "message"), [
    ("- just a list", "", "the rule set must be a mapping (version, fit, behaviour, ...), got a list"),
    ({"version": "v"}, "", "no rules: add a `fit` list, a `behaviour` list, or both"),
    ({"version": "v", "fit": [], "behavior": []}, "behavior",
     ("unknown key 'behavior' (did you mean 'behaviour'?); allowed: version, description, timezone, grades, "
      "qualification, bant, decay, limits, combine, fit, behaviour")),
    ({"version": 1.5, "fit": []}, "version", "must be a string (quote it), got a number 1.5"),
    ({"version": "x" * 51, "fit": []}, "version", "at most 50 characters, got 51"),
    ({"version": "v", "fit": [], "timezone": "Asia/Shanghai"}, "timezone",
     "must be a UTC offset such as \"+08:00\" or \"UTC\", got 'Asia/Shanghai'"),
    ({"version": "v", "fit": [], "grades": {"A": 60, "B": 80, "C": 40}}, "grades",
     "thresholds must decrease: A > B > C, got A=60, B=80, C=40"),
    ({"version": "v", "fit": [], "grades": {"A": 80, "B": 60}}, "grades.C", "missing: a number is required"),
    ({"version": "v", "fit": [], "qualification": {"bant_min_positive": 5}}, "qualification.bant_min_positive",
     "must be a whole number from 1 to 4 (or null: BANT alone never qualifies), got 5"),
    ({"version": "v", "fit": [], "bant": {"timeline_months": 0}}, "bant.timeline_months", "must be > 0, got 0"),
    ({"version": "v", "fit": [], "decay": {"half_life_days": -1}}, "decay.half_life_days", "must be > 0, got -1"),
    ({"version": "v", "fit": [], "decay": {"halflife": 14}}, "decay.halflife",
     "unknown key 'halflife' (did you mean 'half_life_days'?); allowed: half_life_days"),
    ({"version": "v", "fit": [], "decay": 14}, "decay",
     "expected a decay such as {half_life_days: 14}, or false (a mapping), got a number"),
    ({"version": "v", "fit": [], "limits": {"min": 50, "max": 10}}, "limits", "min must be below max, got min=50, max=10"),
    ({"version": "v", "fit": [], "combine": {"mode": "average"}}, "combine.mode",
     "must be one of rules, blend, probability; got 'average'"),
    ({"version": "v", "fit": [], "combine": {"mode": "blend", "weight": 1.5}}, "combine.weight", "must be <= 1, got 1.5"),
    ({"version": "v", "fit": ["x"]}, "fit[0]", "expected a rule (a mapping with id, when, points), got a string"),
    ({"version": "v", "fit": [{"id": "a", "points": 1}]}, "fit[0].when",
     "missing: the condition on the lead, e.g. {field: industry, equals: 制造业}"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title", "exists": True}}]}, "fit[0]",
     "missing: `points` (a number, may be negative) or `disqualify` (true or a reason)"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title", "exists": True}, "points": 1, "disqualify": True}]},
     "fit[0]", "a rule gives points or disqualifies, not both: remove `points` or `disqualify`"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title", "exists": True}, "disqualify": 3}]},
     "fit[0].disqualify", "must be true or a reason (a string), got 3"),
    ({"version": "v", "fit": [{"when": {"field": "title", "exists": True}, "points": 1}]}, "fit[0].id",
     "missing: every rule needs an id (lower-case letters, digits, _ . -)"),
    ({"version": "v", "behaviour": [{"id": "a", "type": "Page View", "points": 1}]}, "behaviour[0].type",
     "an activity type is a lower-case identifier such as page_view, got 'Page View'"),
    ({"version": "v", "behaviour": [{"id": "a", "type": "page_view", "url": "*", "url_regex": ".", "points": 1}]},
     "behaviour[0]", "give `url` (a glob) or `url_regex`, not both"),
    ({"version": "v", "behaviour": [{"id": "a", "type": "page_view", "url_regex": "(", "points": 1}]},
     "behaviour[0].url_regex", "invalid regular expression '(': missing ), unterminated subpattern at position 0"),
    ({"version": "v", "behaviour": [{"id": "a", "type": "x", "points": 1, "cap": {"points": 5}}]},
     "behaviour[0].cap.period", "missing: the cap's window, e.g. 1d, 7d, 30d, 12h, 2w"),
    ({"version": "v", "behaviour": [{"id": "a", "type": "x", "points": 1, "when": {"field": "title", "exists": True}}]},
     "behaviour[0].when.field", "an activity condition tests type, url or attributes.<key>, got 'title'"),
    ({"version": "v", "behaviour": [{"id": "a", "type": "page_view", "points": 1},
                                    {"id": "b", "type": "page_view", "url": "*/pricing*", "points": 9}]},
     "behaviour[1]", ("rule 'b' can never match: behaviour[0] 'a' already takes every such activity "
                      "(the first matching rule wins: put specific rules first)")),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title"}, "points": 1}]}, "fit[0].when",
     "no operator: add one of equals, in, contains, regex, gt, gte, lt, lte, between, exists, missing"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title", "equals": "a", "contains": "b"}, "points": 1}]},
     "fit[0].when", "one operator per test, found equals, contains: combine tests with all: [...]"),
    ({"version": "v", "fit": [{"id": "a", "when": {"all": [], }, "points": 1}]}, "fit[0].when.all",
     "must be a non-empty list of conditions, got a list"),
    ({"version": "v", "fit": [{"id": "a", "when": {"any": [{"field": "title", "exists": True}], "field": "x"},
                               "points": 1}]},
     "fit[0].when", "'any' stands alone in its mapping; also found: field (nest them: {all: [{...}, {...}]})"),
    ({"version": "v", "fit": [{"id": "a", "when": "title is CEO", "points": 1}]}, "fit[0].when",
     "expected a condition such as {field: title, contains: [总监]}, got a string"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "titel", "contains": "CEO"}, "points": 1}]},
     "fit[0].when.field", "unknown field 'titel' (did you mean 'title'?); custom attributes are written custom.<key>"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "bant.budgett", "exists": True}, "points": 1}]},
     "fit[0].when.field", "unknown BANT answer 'budgett'; BANT answers: budget, authority, need, timeline"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "custom..x", "exists": True}, "points": 1}]},
     "fit[0].when.field", "must be a field name or dotted path such as title or custom.budget_owner, got 'custom..x'"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title", "exists": False}, "points": 1}]},
     "fit[0].when.exists", "must be true (to negate, use `missing: true`), got False"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title", "equals": ["CEO"]}, "points": 1}]},
     "fit[0].when.equals", "must be a single value (a string, number or boolean; for several use `in`), got a list"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title", "in": "CEO"}, "points": 1}]},
     "fit[0].when.in", "must be a non-empty list of values, got a string"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title", "in": ["CEO", ["VP"]]}, "points": 1}]},
     "fit[0].when.in[1]", "must be a string, number or boolean, got a list"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title", "contains": []}, "points": 1}]},
     "fit[0].when.contains", "must be a substring or a non-empty list of substrings (strings), got []"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "title", "regex": "[总监"}, "points": 1}]},
     "fit[0].when.regex", "invalid regular expression '[总监': unterminated character set at position 0"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "employees", "gte": "many"}, "points": 1}]},
     "fit[0].when.gte", "must be a number (such as 100 or \"500万\"), got a string 'many'"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "employees", "between": [500, 100]}, "points": 1}]},
     "fit[0].when.between", "low must not exceed high, got [500, 100]"),
    ({"version": "v", "fit": [{"id": "a", "when": {"field": "employees", "between": [1]}, "points": 1}]},
     "fit[0].when.between", "must be [low, high] (two numbers), got [1]"),
    ({"version": "v", "fit": [{"id": "a", "when": {"not": {"all": [{"field": "title"}]}}, "points": 1}]},
     "fit[0].when.not.all[0]",
     "no operator: add one of equals, in, contains, regex, gt, gte, lt, lte, between, exists, missing"),
])
def test_each_kind_of_problem_is_explained(doc: object, path: str, message: str) -> None:
    found = problems(doc)
    assert found.get(path) == message, found


def test_yaml_syntax_errors_and_duplicate_keys_are_problems_with_a_line() -> None:
    assert problems("version: v\nfit: [\n") == {
        "<yaml>": "line 3, column 1: while parsing a flow node: expected the node content, but found '<stream end>'"}
    found = problems("version: v\nfit: []\nfit: []\n")
    assert found == {"<yaml>": "line 3, column 1: duplicate key 'fit' (first on line 2)"}


# ---------------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(("when", "lead", "expected"), [
    ({"field": "industry", "equals": "制造业"}, {"industry": "制造业"}, True),
    ({"field": "industry", "equals": "制造业"}, {"industry": "金融业"}, False),
    ({"field": "title", "equals": "ceo"}, {"title": " CEO "}, True),  # case and blanks ignored
    ({"field": "employees", "equals": 300}, {"employees": "300人"}, True),
    ({"field": "consent.do_not_call", "equals": True}, {"consent": {"do_not_call": True}}, True),
    ({"field": "consent.do_not_call", "equals": True}, {"consent": {"do_not_call": "是"}}, True),
    ({"field": "consent.do_not_call", "equals": False}, {"consent": {}}, False),  # missing is not false
    ({"field": "province", "in": ["北京", "上海"]}, {"province": "上海"}, True),
    ({"field": "province", "in": ["北京", "上海"]}, {"province": "上海市"}, False),
    ({"field": "employees", "in": [100, 200]}, {"employees": 200}, True),
    ({"field": "title", "contains": ["总监", "经理", "CEO"]}, {"title": "销售总监"}, True),
    ({"field": "title", "contains": ["总监", "经理", "CEO"]}, {"title": "联合创始人兼ceo"}, True),
    ({"field": "title", "contains": "总监"}, {"title": "工程师"}, False),
    ({"field": "product_interest", "contains": "crm"}, {"product_interest": ["SCRM", "BI"]}, True),  # any element
    ({"field": "email", "regex": r"@(qq|163)\.com$"}, {"email": "a@qq.com"}, True),
    ({"field": "email", "regex": r"@(qq|163)\.com$"}, {"email": "a@corp.cn"}, False),
    ({"field": "company_credit_code", "regex": "^91"}, {"company_credit_code": 91310000}, True),  # str() of a number
    ({"field": "employees", "gt": 100}, {"employees": 101}, True),
    ({"field": "employees", "gt": 100}, {"employees": 100}, False),
    ({"field": "employees", "gte": 100}, {"employees": 100}, True),
    ({"field": "employees", "lt": 10}, {"employees": "9人"}, True),
    ({"field": "employees", "lte": 10}, {"employees": 10.5}, False),
    ({"field": "employees", "gte": 100}, {"employees": "100-499人"}, False),  # a range is not a number
    ({"field": "registered_capital", "gte": "1000万"}, {"registered_capital": "1,200万元"}, True),
    ({"field": "registered_capital", "gte": "1000万"}, {"registered_capital": "1.2亿"}, True),
    ({"field": "registered_capital", "gte": "1000万"}, {"registered_capital": 5_000_000}, False),
    ({"field": "employees", "between": [100, 499]}, {"employees": 100}, True),
    ({"field": "employees", "between": [100, 499]}, {"employees": 499}, True),
    ({"field": "employees", "between": [100, 499]}, {"employees": 500}, False),
    ({"field": "employees", "gt": 1}, {"employees": True}, False),  # a boolean is not a number
    ({"field": "custom.budget_owner", "exists": True}, {"custom": {"budget_owner": "王总"}}, True),
    ({"field": "custom.budget_owner", "exists": True}, {"custom": {"budget_owner": "  "}}, False),
    ({"field": "custom.budget_owner", "missing": True}, {"custom": {}}, True),
    ({"field": "custom.budget_owner", "missing": True}, {}, True),
    ({"field": "custom.budget_owner", "missing": True}, {"custom": "oops"}, True),
    ({"field": "title", "contains": "总监"}, {"title": None}, False),
    ({"all": [{"field": "title", "contains": "经理"}, {"not": {"field": "title", "contains": "总经理"}}]},
     {"title": "销售经理"}, True),
    ({"all": [{"field": "title", "contains": "经理"}, {"not": {"field": "title", "contains": "总经理"}}]},
     {"title": "总经理"}, False),
    ({"any": [{"field": "industry", "equals": "金融业"}, {"field": "employees", "gte": 1000}]},
     {"industry": "制造业", "employees": 2000}, True),
    ({"any": [{"field": "industry", "equals": "金融业"}, {"field": "employees", "gte": 1000}]},
     {"industry": "制造业", "employees": 20}, False),
    ({"not": {"field": "title", "contains": "总监"}}, {}, True),  # not of a test on a missing field
    ([{"field": "industry", "equals": "制造业"}, {"field": "province", "equals": "江苏"}],
     {"industry": "制造业", "province": "江苏"}, True),  # a list is `all`
])
def test_conditions(when: object, lead: dict, expected: bool) -> None:
    assert condition(when).matches(lead) is expected


def test_conditions_describe_themselves() -> None:
    when = condition({"all": [{"field": "title", "contains": ["总监", "VP"]}, {"not": {"field": "x", "exists": True}}]})
    assert when.describe() == "(title contains 总监|VP) and (not (x exists))"


@pytest.mark.parametrize(("text", "number"), [
    (12, 12.0), ("12", 12.0), ("500万", 5e6), ("1.2亿", 1.2e8), ("5k", 5e3), ("300人", 300.0), ("1,000万元", 1e7),
    ("3千", 3e3), ("100-499人", None), ("abc", None), (True, None), (None, None), (float("nan"), None),
])
def test_numbers_are_read_with_chinese_units(text: object, number: float | None) -> None:
    assert to_number(text) == number
