"""opportunity's pure rules: who may accept and convert a lead, how customers and contacts are told apart, the
pipeline's moves, the funnel's bookkeeping, and the plans managers load."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from leadflow_opportunity.domain.conversion import (
    ContactInput, CustomerInput, CustomerKind, contact_of, customer_identity, filled, name_key, same_contact,
)
from leadflow_opportunity.domain.funnel import (
    Fact, apply, attainment, deltas, rank, roi, steps,
)
from leadflow_opportunity.domain.model import Actor, ConversionStatus, check_accept, check_convert, status_for_owner
from leadflow_opportunity.domain.pipeline import DEFAULT_PIPELINE, check_move, parse_pipeline
from leadflow_opportunity.domain.plans import SpendRow, TargetRow, month_of, parse_rows
from leadflow_shared.documents import DocumentError
from leadflow_shared.refusals import Refusal

REP = Actor("rep-a", frozenset({"rep"}), frozenset({"east"}))
MANAGER = Actor("boss", frozenset({"manager"}), frozenset({"east"}))
OTHER_MANAGER = Actor("boss-n", frozenset({"manager"}), frozenset({"north"}))


def lead(**fields: object) -> dict[str, object]:
    return {"owner_id": "rep-a", "team_id": "east", "status": "open", "accepted_at": None, **fields}


def test_an_owned_lead_is_open_and_an_unowned_one_waits() -> None:
    assert status_for_owner("rep-a") == ConversionStatus.open
    assert status_for_owner(None) == ConversionStatus.unowned


def test_the_owner_accepts_and_converts_and_a_manager_of_the_team_may_for_him() -> None:
    assert check_accept(lead(), REP) is None
    assert check_accept(lead(), MANAGER) is None
    assert check_accept(lead(owner_id="rep-b"), REP).status == 403  # type: ignore[union-attr]
    assert check_accept(lead(), OTHER_MANAGER).status == 403  # type: ignore[union-attr]
    assert check_accept(lead(accepted_at=datetime.now(UTC)), REP).code == "already_accepted"  # type: ignore[union-attr]
    assert check_convert(lead(), REP).code == "not_accepted"  # type: ignore[union-attr]
    assert check_convert(lead(accepted_at=datetime.now(UTC)), REP) is None
    assert check_convert(lead(), MANAGER) is None  # the manager's override
    assert check_convert(lead(status="converted"), REP).status == 409  # type: ignore[union-attr]
    assert check_convert(None, REP).status == 404  # type: ignore[union-attr]
    unowned = check_convert(lead(owner_id=None, accepted_at=datetime.now(UTC)), REP)
    assert unowned is not None and "公海" in unowned.zh


def test_a_company_is_one_whatever_way_its_name_is_written_in_one_region() -> None:
    assert name_key("上海示例科技有限公司") == name_key("示例科技(上海)有限公司") == name_key("示例科技（上海）有限公司")
    assert name_key("示例科技(北京)有限公司") != name_key("示例科技(上海)有限公司")


def test_the_customer_comes_from_the_request_then_from_the_lead() -> None:
    snapshot = {"company_name": "示例科技有限公司", "mobile": "+8613800000000", "city": "杭州市"}
    company = customer_identity(CustomerKind.company, CustomerInput(), snapshot)
    assert not isinstance(company, Refusal) and company.name == "示例科技有限公司" and company.city == "杭州市"
    person = customer_identity(CustomerKind.person, CustomerInput(mobile="138 0000 0001"), snapshot)
    assert not isinstance(person, Refusal) and person.mobile == "+8613800000001"
    assert customer_identity(CustomerKind.company, CustomerInput(), {}).code == "company_required"  # type: ignore[union-attr]
    assert customer_identity(CustomerKind.company, CustomerInput(credit_code="123"), snapshot).code == "bad_credit_code"  # type: ignore[union-attr]


def test_a_contact_is_the_same_person_by_mobile_wechat_or_email() -> None:
    contact = contact_of(ContactInput(email="Wang@Example.com"), {"mobile": "13800000000", "name": "王五"})
    assert not isinstance(contact, Refusal) and contact.email == "wang@example.com" and contact.mobile == "+8613800000000"
    known = [{"contact_id": 1, "mobile": None, "wechat": None, "email": "wang@example.com", "title": None}]
    assert same_contact(known, contact) == known[0]
    assert filled(known[0], contact) == {"mobile": "+8613800000000", "name": "王五"}
    assert same_contact(known, contact_of(ContactInput(email="li@example.com"), {})) is None  # type: ignore[arg-type]
    assert contact_of(ContactInput(mobile="12"), {}).code == "bad_mobile"  # type: ignore[union-attr]


def test_the_default_pipeline_moves() -> None:
    p = DEFAULT_PIPELINE
    assert [s.name for s in p.stages] == ["初步接洽", "需求调研", "方案呈现", "技术交流", "商务谈判", "合同签署"]
    assert check_move(p, "initial_contact", "open", "proposal") is None  # skipping forward is allowed by default
    assert check_move(p, "proposal", "open", "initial_contact") is None
    assert check_move(p, "proposal", "open", "proposal").code == "same_stage"  # type: ignore[union-attr]
    assert check_move(p, "proposal", "open", "won", contract_ref="HT").code == "not_winnable"  # type: ignore[union-attr]
    assert check_move(p, "contract", "open", "won", contract_ref=" ").code == "contract_required"  # type: ignore[union-attr]
    assert check_move(p, "contract", "open", "won", contract_ref="HT-9") is None
    assert check_move(p, "proposal", "open", "lost").code == "lost_reason_required"  # type: ignore[union-attr]
    assert check_move(p, "proposal", "open", "lost", lost_reason="price") is None
    assert check_move(p, "proposal", "won", "lost", lost_reason="price").code == "closed"  # type: ignore[union-attr]
    assert p.probability("won") == 1.0 and p.probability("negotiation") == 0.7


def test_a_pipeline_document_is_refused_with_every_error() -> None:
    with pytest.raises(DocumentError) as refused:
        parse_pipeline("stages:\n  - {id: a, name: A, probability: 1.5}\n  - {id: a, name: B, probability: 0.5}\n"
                       "lost_reasons: [{id: x, name: X}]\nwin_from: [zzz]\n")
    assert "probability" in str(refused.value)
    with pytest.raises(DocumentError) as repeated:
        parse_pipeline({"stages": [{"id": "a", "name": "A", "probability": 0.1},
                                   {"id": "a", "name": "B", "probability": 0.2}],
                        "lost_reasons": [{"id": "x", "name": "X"}]})
    assert "repeat" in str(repeated.value)
    with pytest.raises(DocumentError):
        parse_pipeline("- not a mapping")


T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def test_the_funnel_row_keeps_first_times_and_moves_its_counts_between_cohorts() -> None:
    lead_id = uuid.uuid4()
    row = apply({"lead_id": lead_id}, Fact(lead_id, "received", T0, day=T0.date(), source="website"))
    row = apply(row, Fact(lead_id, "owner", T0 + timedelta(hours=1), owner_id="rep-a", team_id="east"))
    row = apply(row, Fact(lead_id, "mql", T0 + timedelta(hours=3)))
    row = apply(row, Fact(lead_id, "mql", T0 + timedelta(hours=2)))  # told late: the first time stays
    assert row["mql_at"] == T0 + timedelta(hours=2) and row["owner_id"] == "rep-a"
    older = apply(row, Fact(lead_id, "owner", T0, owner_id="rep-old"))
    assert older["owner_id"] == "rep-a"  # an older ownership told late changes nothing
    transferred_first = apply({"lead_id": lead_id}, Fact(lead_id, "owner", T0 + timedelta(hours=3), owner_id="rep-b"))
    assigned_late = apply(transferred_first, Fact(lead_id, "owner", T0, owner_id="rep-a", team_id="east"))
    assert (assigned_late["owner_id"], assigned_late["team_id"]) == ("rep-b", "east")  # but its team does

    moved = apply(row, Fact(lead_id, "owner", T0 + timedelta(days=1), owner_id="rep-b", team_id="east"))
    change = deltas([(row, moved)])
    assert sorted((k.owner_id, v[:3]) for k, v in change.items()) == [("rep-a", (-1, -1, 0)), ("rep-b", (1, 1, 0))]
    converted = apply(moved, Fact(lead_id, "opportunities", T0 + timedelta(days=2), owner_id="rep-b"))
    won = apply(converted, Fact(lead_id, "won", T0 + timedelta(days=9), amount=1000.0))
    later = apply(won, Fact(lead_id, "owner", T0 + timedelta(days=10), owner_id=None))
    assert later["owner_id"] == "rep-b"  # a converted lead keeps its credit
    (key, vector), = deltas([(None, later)]).items()
    assert key.owner_id == "rep-b" and vector == (1, 1, 0, 1, 1, 0, 1000.0, 0.0)
    assert deltas([(later, later)]) == {}


def test_a_lead_counts_only_once_intake_told_its_day() -> None:
    lead_id = uuid.uuid4()
    early = apply({"lead_id": lead_id}, Fact(lead_id, "mql", T0))
    assert deltas([(None, early)]) == {}


def test_the_funnel_steps_rates_and_the_leaderboard_ranks() -> None:
    figures = steps({"leads": 200, "mql": 100, "sql": 50, "opportunities": 20, "won": 5, "realized": 4}, "en")
    assert [(s.count, s.rate, s.overall) for s in figures][:2] == [(200, None, 1.0), (100, 0.5, 0.5)]
    assert figures[-1].rate == 0.8 and figures[-1].label == "Paid"
    assert [s.label for s in steps({}, "zh")][0] == "线索" and steps({})[1].rate is None
    ranked = rank([{"id": "a", "v": 5}, {"id": "b", "v": 9}, {"id": "c", "v": 5}, {"id": "d", "v": 1}], "v")
    assert [(r["id"], r["rank"]) for r in ranked] == [("b", 1), ("a", 2), ("c", 2), ("d", 4)]
    assert attainment(150, 100) == 1.5 and attainment(10, None) is None and attainment(10, 0) is None
    assert roi(300, 100) == 2.0 and roi(50, 0) is None


def test_plans_load_from_json_or_csv_and_are_refused_whole() -> None:
    rows = parse_rows(SpendRow, "\ufeffmonth,source,partner_id,amount\n2026-11,paid_ads,,30000\n"
                                "2026-11,channel_partner,p-1,5000.5\n")
    assert [(r.month, str(r.source), r.partner_id, r.amount) for r in rows] == [
        (date(2026, 11, 1), "paid_ads", "", 30000.0), (date(2026, 11, 1), "channel_partner", "p-1", 5000.5)]
    targets = parse_rows(TargetRow, [{"month": "2026-12-15", "kind": "rep", "subject_id": "rep-a", "team_id": "east",
                                      "amount": 100000}])
    assert targets[0].month == date(2026, 12, 1)
    with pytest.raises(DocumentError) as refused:
        parse_rows(SpendRow, [{"month": "2026-13", "source": "tv", "amount": -1}, {"month": "2026-11"}])
    paths = {p.path for p in refused.value.problems}
    assert {"[0].month", "[0].source", "[0].amount", "[1].source"} <= paths
    with pytest.raises(DocumentError, match="repeat"):
        parse_rows(TargetRow, [{"month": "2026-11", "kind": "team", "subject_id": "east", "amount": 1}] * 2)
    with pytest.raises(DocumentError):
        parse_rows(SpendRow, [])
    assert month_of("2026-02") == date(2026, 2, 1)
