"""`leadflow demo`'s scenario, its pure parts: the leads it generates (the mix of senders, quality and
duplicates, as the services themselves read them) and its documents (loaded by the services' own parsers).
No servers: the scenario itself runs with `leadflow demo`."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
import yaml

from leadflow_assignment.domain.org import parse_organisation
from leadflow_assignment.domain.rules import parse_rules
from leadflow_intake.schemas import validate_lead
from leadflow_localstack.scenario.catalogue import OWN, PARTNERS, PLACES, SENDERS, SOUTH, TEAM_OF_REGION
from leadflow_localstack.scenario.documents import documents_dir, read_cast
from leadflow_localstack.scenario.leads import (
    DUPLICATE_SHARE,
    DUPLICATE_VARIANTS,
    Plan,
    early_activities,
    generate,
    warming_activities,
)
from leadflow_localstack.scenario.reps import Desk, closes, temper
from leadflow_localstack.scenario.setup import bridged
from leadflow_localstack.scenario.watch import pick_pair
from leadflow_pool.domain.pools import parse_pools
from leadflow_scoring.domain.scoring import bant_answers
from leadflow_shared import normalize


def _document(name: str) -> object:
    return yaml.safe_load((documents_dir() / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def plan() -> Plan:
    return generate(3000, seed=20261206, referrers=read_cast().referrers())


def _firsts(plan: Plan) -> dict[int, dict]:
    return {s.person: s for s in plan.submissions if s.duplicate is None}


# ---- the leads --------------------------------------------------------------------------------------------

def test_the_plan_has_the_submissions_asked_for_and_repeats_itself_for_a_seed(plan: Plan) -> None:
    assert len(plan.submissions) == 3000
    again = generate(3000, seed=20261206, referrers=read_cast().referrers())
    assert [s.lead for s in again.submissions] == [s.lead for s in plan.submissions]
    other = generate(3000, seed=7, referrers=read_cast().referrers())
    assert {p.mobile for p in other.persons}.isdisjoint({p.mobile for p in plan.persons if len(p.mobile) == 11})


def test_three_partners_and_the_company_s_own_channels_post(plan: Plan) -> None:
    by_sender = Counter(s.sender for s in plan.submissions)
    assert set(by_sender) == {s.key for s in SENDERS} and len(PARTNERS) == 3
    for sender in SENDERS:
        assert by_sender[sender.key] / len(plan.submissions) == pytest.approx(sender.share, abs=0.03)
    partner_sources = {s.lead["source"] for s in plan.submissions if s.sender != OWN}
    own_sources = Counter(s.lead["source"] for s in plan.submissions if s.sender == OWN)
    assert partner_sources == {"channel_partner"}
    assert {"website", "offline_event", "referral", "sales_self_sourced"} <= set(own_sources)


def test_a_partner_posts_only_from_its_regions(plan: Plan) -> None:
    regions = {s.key: s.regions for s in SENDERS}
    for submission in plan.submissions:
        assert plan.person(submission.person).place.region in regions[submission.sender]


def test_about_a_third_are_qualified_by_bant_as_scoring_reads_it(plan: Plan) -> None:
    quality = Counter(p.quality for p in plan.persons)
    assert quality["qualified"] / len(plan.persons) == pytest.approx(0.35, abs=0.04)
    assert quality["nurture"] > quality["qualified"] > quality["junk"] > 0 and quality["invalid"] > 0
    now = datetime.now(UTC)
    for index, submission in _firsts(plan).items():
        positive = len(bant_answers(submission.lead.get("bant"), now=now))
        if plan.person(index).quality == "qualified":
            assert positive >= 2, submission.lead  # an MQL at its first score
        elif plan.person(index).quality == "nurture":
            assert positive <= 1, submission.lead  # nurtured unless its behaviour says otherwise


def test_intake_accepts_every_lead_but_the_invalid_ones(plan: Plan) -> None:
    for index, submission in _firsts(plan).items():
        checked = validate_lead(submission.lead)
        assert isinstance(checked, list) == (plan.person(index).quality == "invalid"), submission.lead
    for submission in plan.submissions:
        if submission.duplicate:
            assert not isinstance(validate_lead(submission.lead), list), submission.lead


def test_duplicates_are_the_same_person_however_written(plan: Plan) -> None:
    firsts = _firsts(plan)
    repeats = [s for s in plan.submissions if s.duplicate]
    assert len(repeats) / len(plan.submissions) == pytest.approx(DUPLICATE_SHARE, abs=0.01)
    assert set(Counter(s.duplicate for s in repeats)) == set(DUPLICATE_VARIANTS)
    for repeat in repeats:
        first = firsts[repeat.person].lead
        assert _contact_keys(repeat.lead) & _contact_keys(first), (repeat.duplicate, repeat.lead, first)
        if repeat.duplicate in ("another_partner", "company_typo"):
            assert repeat.sender != firsts[repeat.person].sender
        if repeat.duplicate == "company_typo" and "company_name" in first:
            changed = [a != b for a, b in zip(repeat.lead["company_name"], first["company_name"])]
            assert sum(changed) == 1 and len(repeat.lead["company_name"]) == len(first["company_name"])
        if repeat.duplicate == "mobile_format":
            assert repeat.lead["mobile"] != first["mobile"]


def _contact_keys(lead: dict) -> set[str]:
    """The keys intake dedupes on: a WeChat id that is a mobile is that mobile; e-mails in one case."""
    keys = set()
    for value in (lead.get("mobile"), lead.get("wechat")):
        try:
            keys.add(normalize.phone(value)) if value else None
        except Exception:
            keys.add(f"wechat:{value}")
    if lead.get("email"):
        keys.add(normalize.email(lead["email"]))
    return keys


def test_colleagues_share_companies_and_places_are_real(plan: Plan) -> None:
    companies = Counter(p.company.name for p in plan.persons if p.company)
    assert max(companies.values()) >= 3 and len(companies) < len(plan.persons) / 2
    known = {(p.province, p.city) for p in PLACES}
    assert all((s.lead["province"], s.lead["city"]) in known for s in plan.submissions)


def test_rep_referred_leads_name_a_rep_of_their_region(plan: Plan) -> None:
    cast = read_cast()
    team_of = {r.id: r.team for r in cast.reps}
    referred = [s for s in plan.submissions if s.lead.get("referrer")]
    assert referred
    for submission in referred:
        assert submission.lead["source"] in ("referral", "sales_self_sourced")
        assert team_of[submission.lead["referrer"]] == TEAM_OF_REGION[plan.person(submission.person).place.region]


def test_a_burst_from_one_device_and_behaviour_for_the_hot_and_the_warming(plan: Plan) -> None:
    burst = [s for s in plan.submissions if s.lead.get("device_id")]
    assert len(burst) == 30 and len({s.lead["device_id"] for s in burst}) == 1
    assert len([s for s in generate(300, seed=1, referrers=read_cast().referrers()).submissions
                if s.lead.get("device_id")]) == 0
    now = datetime.now(UTC)
    early = early_activities(plan, now)
    hot_mobiles = {p.mobile for p in plan.persons if p.hot}
    assert early and {a["mobile"] for a in early} <= hot_mobiles
    assert {"demo_request", "page_view"} <= {a["type"] for a in early}
    assert len({a["activity_id"] for a in early}) == len(early)
    warming = [p for p in plan.persons if p.warms]
    assert warming and all(p.quality == "nurture" and not p.hot for p in warming)
    lead_id = str(uuid.uuid4())
    assert {a["lead_id"] for a in warming_activities(warming[0], lead_id, plan.seed, now)} == {lead_id}


# ---- the reps' tempers ------------------------------------------------------------------------------------

def test_some_leads_are_neglected_some_released_most_worked() -> None:
    moods = Counter(temper(5, str(uuid.UUID(int=i)), "rep-li-na", 1) for i in range(20_000))
    assert moods["neglect"] / 20_000 == pytest.approx(0.15, abs=0.01)
    assert moods["release"] / 20_000 == pytest.approx(0.04, abs=0.01)
    assert temper(5, "lead", "rep-li-na", 1) == temper(5, "lead", "rep-li-na", 1)
    hot = sum(closes(5, str(uuid.UUID(int=i)), "A") for i in range(5000))
    cold = sum(closes(5, str(uuid.UUID(int=i)), "D") for i in range(5000))
    assert hot > 5 * cold > 0


def test_the_staged_collusion_pair_is_a_fresh_one_in_a_pool_that_blocks() -> None:
    cast = read_cast()
    desks = [Desk(rep, "token", cast.pools[rep.team], 1, None) for rep in cast.reps]  # type: ignore[arg-type]
    dropper, taker = pick_pair(desks, [], set(cast.blocking_pools))
    assert dropper.pool_id == taker.pool_id and dropper.pool_id in cast.blocking_pools
    flagged = [{"released_by": dropper.rep.id, "claimed_by": taker.rep.id}]
    again = pick_pair(desks, flagged, set(cast.blocking_pools))
    assert {again[0].rep.id, again[1].rep.id} != {dropper.rep.id, taker.rep.id}


# ---- the documents ----------------------------------------------------------------------------------------

def test_the_documents_load_with_the_services_own_parsers() -> None:
    org = parse_organisation(_document("org.yaml"))
    rules = parse_rules(_document("rules.yaml"), org)
    pools = parse_pools(_document("pools.yaml"))
    assert len(org.teams) == 2 and len(pools.pools) == 2
    assert {t.default_pool for t in org.teams} == {p.id for p in pools.pools}
    assert {r.team for r in rules.rules if r.team} == {t.id for t in org.teams}
    assert sorted({r.tier for r in org.reps}) == [1, 2, 3]


def test_the_south_is_covered_by_field_territories_and_every_region_has_its_team() -> None:
    org = parse_organisation(_document("org.yaml"))
    assert set(TEAM_OF_REGION.values()) == {t.id for t in org.teams}
    field_provinces = {org.territory(t).province for r in org.reps for t in r.territories}
    assert {p.province for p in PLACES if p.region == SOUTH} <= field_provinces
    cast = read_cast()
    assert all(r.field_sales == (r.team == TEAM_OF_REGION[SOUTH]) for r in cast.reps)


def test_a_bridge_organisation_lets_either_demo_s_rules_in() -> None:
    """`leadflow demo` after `--quick` (or the reverse): each organisation is refused while the other's rules are
    in force, so it goes in through both together, against which both rule sets hold."""
    examples = documents_dir().parents[2] / "services" / "assignment" / "examples"
    theirs = yaml.safe_load((examples / "org.yaml").read_text(encoding="utf-8"))
    ours = _document("org.yaml")
    bridge = parse_organisation(bridged(theirs, ours))
    parse_rules(_document("rules.yaml"), bridge)
    parse_rules(yaml.safe_load((examples / "rules.yaml").read_text(encoding="utf-8")), bridge)
    assert {t.id for t in bridge.teams} == {t["id"] for t in theirs["teams"]} | {t["id"] for t in ours["teams"]}
    with pytest.raises(Exception, match="unknown team"):
        parse_rules(_document("rules.yaml"), parse_organisation(theirs))
