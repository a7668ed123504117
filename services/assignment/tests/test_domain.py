"""Routing rules and strategies, pure: no database, no Kafka."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from leadflow_assignment.domain.org import DocumentError, load_organisation_yaml, parse_organisation, place
from leadflow_assignment.domain.routing import ConversionRates, LeadFacts, Load, Loads, Router, settle_loads
from leadflow_assignment.domain.rules import DEFAULT_RULES, load_rules_yaml, parse_rules
from leadflow_assignment.domain.simulation import Replayed, compare

ORG = load_organisation_yaml("""
teams:
  - {id: east, default_pool: east-pool, managers: [mgr-li]}
  - {id: field, default_pool: field-pool, sales_mode: field}
  - {id: community, default_pool: community-pool, sales_mode: community}
territories:
  - {id: hz, province: 浙江省, city: 杭州市}
  - {id: zj, province: 浙江}
  - {id: sh, province: 上海市, city: 上海市}
reps:
  - {id: a, team: east, tier: 1}
  - {id: b, team: east, tier: 2}
  - {id: c, team: east, tier: 3}
  - {id: f-hz, team: field, territories: [hz]}
  - {id: f-zj, team: field, territories: [zj]}
  - {id: f-sh, team: field, territories: [sh], max_open_leads: 1}
  - {id: coach, team: community, cohorts: [2026-12-trial]}
""")


def lead(**facts: object) -> LeadFacts:
    return LeadFacts(lead_id=facts.pop("lead_id", uuid.uuid4()), **facts)  # type: ignore[arg-type]


def router(rules_yaml: str, org=ORG, **kwargs: object) -> Router:
    return Router(org, load_rules_yaml(rules_yaml, org), default_pool="public", **kwargs)  # type: ignore[arg-type]


def test_the_first_matching_rule_decides() -> None:
    r = router("""
rules:
  - {id: a-grade, when: {grades: [A]}, strategy: manual, team: east}
  - {id: partner-x, when: {partners: [px]}, strategy: pool, pool: partner-pool}
  - {id: rest, strategy: round_robin, team: east}
""")
    assert r.decide(lead(grade="A", partner_id="px"), Loads()).queue == "east-queue"
    assert r.decide(lead(grade="B", partner_id="px"), Loads()).pool_id == "partner-pool"
    decision = r.decide(lead(grade="B"), Loads())
    assert (decision.outcome, decision.rule, decision.strategy) == ("assigned", "rest", "round_robin")


def test_conditions_on_score_probability_place_size_customer_and_custom_attributes() -> None:
    r = router("""
rules:
  - id: big-zhejiang
    when: {score_min: 60, probability_min: 0.5, provinces: [浙江省], company_size_min: 100, existing_customer: false,
           custom: {budget: [high, mid]}, cities: [杭州]}
    strategy: pool
    pool: vip
""")
    good = dict(score=70, probability=0.6, province="浙江", city="杭州市", company_size=500, custom={"budget": "high"})
    assert r.decide(lead(**good), Loads()).pool_id == "vip"
    for change in ({"score": 50}, {"probability": None}, {"province": "江苏"}, {"company_size": 10},
                   {"customer_id": uuid.uuid4()}, {"custom": {"budget": "low"}}):
        assert r.decide(lead(**{**good, **change}), Loads()).pool_id == "public", change


def test_referral_goes_to_the_original_rep_unless_he_is_full() -> None:
    r = router("rules: [{id: referral, when: {referral: true}, strategy: referral_to_original_rep}]")
    assert r.decide(lead(referrer="b"), Loads()).owner_id == "b"
    full = parse_organisation({**ORG.document(), "reps": [{"id": "b", "team": "east", "max_open_leads": 2}]})
    decision = router("rules: [{id: referral, strategy: referral_to_original_rep}]", org=full).decide(
        lead(referrer="b"), Loads({"b": Load(open=2)}))
    assert (decision.outcome, decision.pool_id) == ("pooled", "east-pool")
    assert decision.reason == "the referring rep b is full (2 of 2 open)"
    # A referrer who is not a rep: the rule does not apply, the next decides.
    decision = r.decide(lead(referrer="customer-123"), Loads())
    assert decision.rule == "none" and decision.skipped_rules[0]["rule"] == "referral"


def test_account_owner_keeps_a_company_with_its_rep() -> None:
    r = router("rules: [{id: owner, strategy: account_owner}, {id: rr, strategy: round_robin, team: east}]")
    assert r.decide(lead(account_owner_id="c"), Loads()).owner_id == "c"
    assert r.decide(lead(), Loads()).rule == "rr"


def test_territory_prefers_the_city_then_the_province() -> None:
    r = router("rules: [{id: field, strategy: territory, team: field}, {id: rest, strategy: pool}]")
    assert r.decide(lead(province="浙江省", city="杭州市"), Loads()).owner_id == "f-hz"
    assert r.decide(lead(province="浙江省", city="宁波市"), Loads()).owner_id == "f-zj"
    loads = Loads({"f-sh": Load(open=1)})
    decision = r.decide(lead(province="上海", city="上海"), loads)
    assert (decision.outcome, decision.pool_id) == ("pooled", "field-pool")
    assert decision.reason.startswith("every eligible rep is full")
    assert decision.candidates[0].as_dict() == {"rep_id": "f-sh", "passed_over": "full (1 of 1 open)"}
    nowhere = r.decide(lead(province="广东"), Loads())
    assert nowhere.rule == "rest" and nowhere.skipped_rules[0]["why"].startswith("no rep covers")


def test_cohort_leads_go_to_the_cohort_runner_even_when_recycled_from_him() -> None:
    r = router("rules: [{id: cohort, strategy: cohort, team: community}]")
    facts = dict(cohort="2026-12-trial", recycled=True, previous_owners=("coach",))
    assert r.decide(lead(**facts), Loads()).owner_id == "coach"


def test_round_robin_is_fair_over_ten_thousand_leads_and_skips_absent_and_full_reps() -> None:
    org = parse_organisation({"teams": [{"id": "t", "default_pool": "p"}],
                              "reps": [{"id": f"r{i:02d}", "team": "t"} for i in range(7)]
                              + [{"id": "away", "team": "t", "status": "on_leave"},
                                 {"id": "small", "team": "t", "max_open_leads": 3}]})
    r = router("rules: [{id: rr, strategy: round_robin, team: t}]", org=org)
    loads = Loads()
    counts = Counter(r.decide(lead(), loads).owner_id for _ in range(10_000))
    assert "away" not in counts and counts["small"] == 3
    even = [n for rep, n in counts.items() if rep != "small"]
    assert max(even) - min(even) <= 1, counts
    # The turn survives a restart: a router given the saved pointers goes on after the last rep.
    again = router("rules: [{id: rr, strategy: round_robin, team: t}]", org=org, pointers=dict(r.pointers))
    assert again.decide(lead(), loads).owner_id == _next_after(r.pointers["rr"], sorted(counts))


def _next_after(last: str, order: list[str]) -> str:
    return next((rep for rep in order if rep > last and rep != "small"), order[0])


def test_caps_on_new_leads_a_day() -> None:
    org = parse_organisation({"teams": [{"id": "t", "default_pool": "p"}],
                              "reps": [{"id": "x", "team": "t", "max_new_per_day": 2}]})
    r = router("rules: [{id: ll, strategy: least_loaded, team: t}]", org=org)
    loads = Loads()
    outcomes = [r.decide(lead(), loads).outcome for _ in range(3)]
    assert outcomes == ["assigned", "assigned", "pooled"]
    assert loads["x"].new_today == 2


def test_loads_decided_unlocked_settle_on_what_other_replicas_committed_meanwhile() -> None:
    """A replica decides on loads read without a lock and adds its changes to the fresh ones; a rep it gave a
    lead to who filled up meanwhile sends the batch back to be decided on locked loads."""
    org = parse_organisation({"teams": [{"id": "t", "default_pool": "p"}],
                              "reps": [{"id": "x", "team": "t", "max_open_leads": 3, "max_new_per_day": 10},
                                       {"id": "y", "team": "t", "max_open_leads": 1}, {"id": "z", "team": "t"}]})
    read = {"x": Load(1, 1), "y": Load(0, 0), "z": Load(5, 0)}
    decided = Loads({rep: Load(load.open, load.new_today) for rep, load in read.items()})
    decided.take("x")
    decided.add_open("z", -2)
    assert settle_loads(org, read, decided, {"x": Load(1, 1), "z": Load(5, 0)}) == {"x": Load(2, 2), "z": Load(3, 0)}
    # another replica gave x a lead and z gave one back: both changes kept, x still within his cap
    assert settle_loads(org, read, decided, {"x": Load(2, 2), "z": Load(4, 0)}) == {"x": Load(3, 3), "z": Load(2, 0)}
    # x filled up meanwhile: decide again
    assert settle_loads(org, read, decided, {"x": Load(3, 3), "z": Load(5, 0)}) is None
    # a rep only given leads back is never over a cap, whatever happened meanwhile
    back = Loads({"y": Load(2, 0)})
    back.add_open("y", -1)
    assert settle_loads(org, {"y": Load(2, 0)}, back, {"y": Load(5, 0)}) == {"y": Load(4, 0)}
    # the daily cap counts too
    daily = Loads({"x": Load(0, 9)})
    daily.take("x")
    assert settle_loads(org, {"x": Load(0, 9)}, daily, {"x": Load(0, 10)}) is None


def test_least_loaded_and_skills() -> None:
    org = parse_organisation({"teams": [{"id": "t", "default_pool": "p"}], "reps": [
        {"id": "edu", "team": "t", "industries": ["教育"]}, {"id": "any1", "team": "t"}, {"id": "any2", "team": "t"}]})
    r = router("rules: [{id: ll, strategy: least_loaded, team: t}]", org=org)
    loads = Loads({"any1": Load(open=5), "any2": Load(open=3), "edu": Load(open=0)})
    decision = r.decide(lead(industry="制造业"), loads)
    assert decision.owner_id == "any2"
    assert {c.rep_id: c.passed for c in decision.candidates}["edu"] == "not in industry 制造业"
    assert r.decide(lead(industry="教育"), loads).owner_id == "edu"


def test_weighted_contraction_gives_the_best_leads_to_the_best_converters() -> None:
    rates = ConversionRates({("a", "website"): (100, 40), ("b", "website"): (100, 10), ("c", "website"): (100, 2)},
                            {"a": "east", "b": "east", "c": "east"})
    r = router("rules: [{id: w, strategy: weighted, team: east, mode: contraction}]", rates=rates)
    assert r.decide(lead(grade="A", channel="website"), Loads()).owner_id == "a"
    assert r.decide(lead(grade="B", channel="website"), Loads()).owner_id == "b"
    assert r.decide(lead(grade="D", channel="website"), Loads()).owner_id == "c"
    by_tier = router("rules: [{id: w, strategy: weighted, team: east, weight_by: tier}]")
    assert by_tier.decide(lead(grade="A"), Loads()).owner_id == "a"
    assert by_tier.decide(lead(grade="C"), Loads()).owner_id == "c"


def test_weighted_growth_mixes_quality_across_tiers_and_replays_the_same() -> None:
    r = router("rules: [{id: w, strategy: weighted, team: east, mode: growth, weight_by: tier}]")
    leads = [lead(grade="A") for _ in range(900)]
    owners = Counter(r.decide(x, Loads()).owner_id for x in leads)
    assert set(owners) == {"a", "b", "c"} and min(owners.values()) > 200
    assert [r.decide(x, Loads()).owner_id for x in leads[:20]] == [r.decide(x, Loads()).owner_id for x in leads[:20]]


def test_a_new_rep_counts_as_his_teams_rate_and_learns_his_own() -> None:
    rates = ConversionRates({("old", "website"): (200, 40), ("new", "website"): (0, 0)}, {"old": "t", "new": "t"})
    assert rates.rate("new", "t", "website") == pytest.approx(rates.team_rate("t", "website"))
    good = ConversionRates({("old", "website"): (200, 40), ("new", "website"): (20, 10)}, {"old": "t", "new": "t"})
    assert good.rate("new", "t", "website") > good.rate("old", "t", "website")


def test_second_assignment_excludes_previous_owners_all_or_the_last() -> None:
    rules = """
rules:
  - {id: again, when: {recycled: true}, strategy: least_loaded, team: east, exclude_previous: %s}
"""
    recycled = dict(recycled=True, previous_owners=("a", "b"))
    assert router(rules % "all").decide(lead(**recycled), Loads()).owner_id == "c"
    decision = router(rules % "last").decide(lead(**recycled), Loads({"c": Load(open=9)}))
    assert decision.owner_id == "a" and {c.rep_id: c.passed for c in decision.candidates}["b"] == "previous owner"
    nobody = router(rules % "all").decide(lead(recycled=True, previous_owners=("a", "b", "c")), Loads())
    assert (nobody.outcome, nobody.pool_id, nobody.reason) == ("pooled", "east-pool", "no eligible rep (3 previous owner)")


def test_team_rules_take_over_from_a_global_rule() -> None:
    r = router("""
rules: [{id: to-east, strategy: team, team: east}]
teams:
  east: [{id: a-leads, when: {grades: [A]}, strategy: manual}, {id: rr, strategy: round_robin}]
""")
    assert r.decide(lead(grade="A"), Loads()).queue == "east-queue"
    decision = r.decide(lead(grade="C"), Loads())
    assert decision.rule == "east/rr" and decision.team_id == "east"


def test_an_org_with_errors_is_refused_whole_with_every_error_and_its_path() -> None:
    with pytest.raises(DocumentError) as refused:
        load_organisation_yaml("""
teams: [{id: east, default_pool: p}]
reps:
  - {id: wang, team: east}
  - {id: wang, team: east}
  - {id: li, team: west}
  - {id: zhao, team: east, max_open_leads: -1, territories: [mars]}
""")
    found = {(p.path, p.message.split(" (")[0]) for p in refused.value.problems}
    assert ("reps[3].max_open_leads", "Input should be greater than or equal to 0") in found
    refused2 = pytest.raises(DocumentError, load_organisation_yaml,
                             "teams: [{id: east, default_pool: p}]\nreps: [{id: wang, team: east}, {id: wang, team: east},"
                             " {id: li, team: west}, {id: z, team: east, territories: [mars]}]")
    paths = {str(p) for p in refused2.value.problems}
    assert paths == {"reps[1].id: duplicate rep 'wang' (also reps[0])", "reps[2].team: unknown team 'west'",
                     "reps[3].territories[0]: unknown territory 'mars'"}


def test_rules_with_errors_are_refused_whole() -> None:
    with pytest.raises(DocumentError) as refused:
        parse_rules({"rules": [{"id": "x", "strategy": "round_robin", "team": "nowhere"},
                               {"id": "x", "strategy": "teleport"}, {"id": "m", "strategy": "manual"}]}, ORG)
    text = {str(p) for p in refused.value.problems}
    assert any(t.startswith("rules[1].strategy: Input should be") for t in text)
    assert "rules[2].team: strategy manual needs `team` or `queue`" in text
    with pytest.raises(DocumentError) as unknown:
        parse_rules({"rules": [{"id": "x", "strategy": "round_robin", "team": "nowhere"}]}, ORG)
    assert [str(p) for p in unknown.value.problems] == ["rules[0].team: unknown team 'nowhere'"]


def test_places_meet_in_one_spelling() -> None:
    assert place("浙江省") == place("浙江") == "浙江" and place("杭州市") == "杭州" and place("上海市") == "上海"


def test_simulation_answers_what_capability_assignment_would_gain() -> None:
    rates = ConversionRates({("a", "website"): (200, 60), ("b", "website"): (200, 20), ("c", "website"): (200, 4)},
                            {"a": "east", "b": "east", "c": "east"})
    from datetime import date
    leads = [Replayed(lead(grade=g, probability=p, channel="website"), date(2026, 12, 1))
             for g, p in [("A", 0.9), ("B", 0.5)] * 30]
    current = parse_rules({"rules": [{"id": "rr", "strategy": "round_robin", "team": "east"}]}, ORG)
    proposed = parse_rules({"rules": [{"id": "w", "strategy": "weighted", "team": "east"}]}, ORG)
    report = compare(leads, ORG, current, proposed, rates, default_pool="public")
    assert report["proposed"]["per_rep"]["a"]["by_grade"] == {"A": 30}
    assert report["expected_conversions_gain"] > 0
    assert report["current"]["outcomes"] == {"assigned": 60}


def test_default_rules_route_referrals_then_owners_then_in_turn() -> None:
    r = Router(ORG, DEFAULT_RULES, default_pool="public")
    assert r.decide(lead(referrer="a"), Loads()).rule == "referral"
    assert r.decide(lead(), Loads()).strategy == "round_robin"


def test_the_example_organisation_and_rules_are_valid() -> None:
    from pathlib import Path

    examples = Path(__file__).parents[1] / "examples"
    org = load_organisation_yaml((examples / "org.yaml").read_text(encoding="utf-8"))
    rules = load_rules_yaml((examples / "rules.yaml").read_text(encoding="utf-8"), org)
    decision = Router(org, rules, default_pool="public").decide(lead(referrer="rep-li-na"), Loads())
    assert (decision.rule, decision.owner_id) == ("referral", "rep-li-na")
