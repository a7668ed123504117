"""Opportunities through their stages over HTTP (商机推进): moves the pipeline allows, won only with a contract and
from a late stage, lost only with a managed reason, closed deals final, every change kept; realization only at
the first payment (新签业绩以首次消费为准), payments idempotent; the pipeline document replaced whole."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from leadflow_shared.db import Database

from .conftest import Token, owned_lead, staff, unique


@pytest.fixture
async def deal(api: AsyncTestClient[Any], db: Database, staff_token: Token) -> str:
    lead_id = await owned_lead(db, "rep-li", company_name=unique("推进公司"))
    response = await api.post(f"/v1/leads/{lead_id}/convert", headers=staff(staff_token, "rep-li"),
                              json={"opportunity": {"name": "年度合同", "amount": 50000}})
    assert response.status_code == 201, response.text
    return str(response.json()["opportunity_id"])


async def move(api: AsyncTestClient[Any], token: Token, deal: str, to: str, who: str = "rep-li",
               **fields: Any) -> Any:
    return await api.post(f"/v1/opportunities/{deal}/stage", json={"to": to, **fields},
                          headers=staff(token, who, "manager" if who.startswith("boss") else "rep"))


def pay(api: AsyncTestClient[Any], token: Token, deal: str | None = None, payment_id: str | None = None,
        when: datetime | None = None, who: str = "billing-bot", role: str = "finance", **fields: Any) -> Any:
    body = {"payment_id": payment_id or unique("pay"), "amount": 20000,
            "received_at": (when or datetime.now(UTC)).isoformat(), **fields}
    if deal:
        body["opportunity_id"] = deal
    return api.post("/v1/payments/", json=body, headers=staff(token, who, role))


async def test_a_deal_moves_through_the_stages_and_is_won_with_its_contract(
        api: AsyncTestClient[Any], staff_token: Token, deal: str) -> None:
    assert (await move(api, staff_token, deal, "needs_analysis")).status_code == 200
    early = await move(api, staff_token, deal, "won", contract_ref="HT-1")
    assert early.status_code == 409 and early.json()["code"] == "not_winnable"
    assert (await move(api, staff_token, deal, "negotiation", note="报价已发")).status_code == 200
    unsigned = await move(api, staff_token, deal, "won")
    assert unsigned.status_code == 422 and unsigned.json()["code"] == "contract_required"
    contract = unique("HT")
    won = await move(api, staff_token, deal, "won", contract_ref=contract)
    assert won.status_code == 200, won.text
    assert (won.json()["status"], won.json()["contract_ref"], won.json()["realized_at"]) == ("won", contract, None)
    again = await move(api, staff_token, deal, "proposal")
    assert again.status_code == 409 and again.json()["code"] == "closed"

    shown = (await api.get(f"/v1/opportunities/{deal}", headers=staff(staff_token, "rep-li"))).json()
    assert [(h["from_stage"], h["to_stage"], h["by"]) for h in shown["history"]] == [
        (None, "initial_contact", "rep-li"), ("initial_contact", "needs_analysis", "rep-li"),
        ("needs_analysis", "negotiation", "rep-li"), ("negotiation", "won", "rep-li")]
    assert shown["history"][2]["detail"] == {"note": "报价已发"}
    assert shown["history"][3]["detail"] == {"contract_ref": contract}


async def test_a_lost_deal_needs_a_reason_from_the_list(api: AsyncTestClient[Any], staff_token: Token,
                                                        deal: str) -> None:
    bare = await move(api, staff_token, deal, "lost")
    assert bare.status_code == 422 and bare.json()["code"] == "lost_reason_required"
    odd = await api.post(f"/v1/opportunities/{deal}/stage", json={"to": "lost", "lost_reason": "weather"},
                         headers=staff(staff_token, "rep-li", **{"Accept-Language": "zh"}))
    assert odd.status_code == 422 and "没有输单原因" in odd.json()["detail"]
    nowhere = await move(api, staff_token, deal, "limbo")
    assert nowhere.status_code == 422 and nowhere.json()["code"] == "unknown_stage"
    lost = await move(api, staff_token, deal, "lost", lost_reason="competitor")
    assert lost.status_code == 200 and (lost.json()["status"], lost.json()["lost_reason"]) == ("lost", "competitor")


async def test_only_the_owner_or_a_manager_moves_a_deal(api: AsyncTestClient[Any], staff_token: Token,
                                                        deal: str) -> None:
    assert (await move(api, staff_token, deal, "proposal", who="rep-wang")).status_code == 403
    assert (await api.get(f"/v1/opportunities/{deal}", headers=staff(staff_token, "rep-wang"))).status_code == 403
    assert (await move(api, staff_token, deal, "proposal", who="boss-east")).status_code == 200
    mine = (await api.get("/v1/opportunities/", headers=staff(staff_token, "rep-wang"))).json()
    assert deal not in [o["opportunity_id"] for o in mine]
    theirs = (await api.get("/v1/opportunities/", params={"status": "open", "limit": 500},
                            headers=staff(staff_token, "boss-east", "manager"))).json()
    assert deal in [o["opportunity_id"] for o in theirs]


async def test_a_won_deal_is_realized_only_at_its_first_payment(api: AsyncTestClient[Any], staff_token: Token,
                                                                deal: str) -> None:
    await move(api, staff_token, deal, "negotiation")
    contract = unique("HT")
    await move(api, staff_token, deal, "won", contract_ref=contract)
    signed = (await api.get(f"/v1/opportunities/{deal}", headers=staff(staff_token, "rep-li"))).json()
    assert signed["realized_at"] is None and signed["realized_amount"] is None  # a signature alone is no sale

    assert (await pay(api, staff_token, deal, who="rep-li", role="rep")).status_code == 403
    paid_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    first = await pay(api, staff_token, contract_ref=contract, payment_id="P-1-" + deal, when=paid_at)
    assert first.status_code == 201, first.text
    assert first.json()["recorded"] is True
    assert datetime.fromisoformat(first.json()["realized_at"]) == paid_at
    again = await pay(api, staff_token, deal, payment_id="P-1-" + deal, when=paid_at)
    assert again.status_code == 200 and again.json()["recorded"] is False
    later = await pay(api, staff_token, deal, when=paid_at + timedelta(days=30))
    assert later.status_code == 201
    shown = (await api.get(f"/v1/opportunities/{deal}", headers=staff(staff_token, "rep-li"))).json()
    assert float(shown["realized_amount"]) == 50000 and len(shown["payments"]) == 2
    assert datetime.fromisoformat(shown["realized_at"]) == paid_at


async def test_a_deposit_before_the_win_realizes_the_deal_when_it_is_won(
        api: AsyncTestClient[Any], staff_token: Token, deal: str) -> None:
    deposit = await pay(api, staff_token, deal)
    assert deposit.status_code == 201 and deposit.json()["realized_at"] is None
    await move(api, staff_token, deal, "contract")
    won = await move(api, staff_token, deal, "won", contract_ref=unique("HT"))
    assert won.json()["realized_at"] is not None and float(won.json()["realized_amount"]) == 50000
    nowhere = await pay(api, staff_token, str(uuid.uuid4()))
    assert nowhere.status_code == 404
    unnamed = await api.post("/v1/payments/", json={"payment_id": "x", "amount": 1,
                                                    "received_at": datetime.now(UTC).isoformat()},
                             headers=staff(staff_token, "billing-bot", "finance"))
    assert unnamed.status_code == 400


async def test_a_contract_reference_belongs_to_one_deal(api: AsyncTestClient[Any], db: Database,
                                                        staff_token: Token, deal: str) -> None:
    contract = unique("HT")
    await move(api, staff_token, deal, "contract")
    assert (await move(api, staff_token, deal, "won", contract_ref=contract)).status_code == 200
    lead_id = await owned_lead(db, "rep-li", company_name=unique("另一家"))
    other = (await api.post(f"/v1/leads/{lead_id}/convert", headers=staff(staff_token, "rep-li"),
                            json={"opportunity": {"name": "x", "amount": 1, "stage": "contract"}})).json()
    taken = await move(api, staff_token, str(other["opportunity_id"]), "won", contract_ref=contract)
    assert taken.status_code == 409 and taken.json()["code"] == "contract_taken"


PIPELINE = """
stages:
  - {id: discovery, name: 需求发现, probability: 0.2}
  - {id: demo, name: 产品演示, probability: 0.5}
  - {id: signing, name: 签约, probability: 0.9}
win_from: [signing]
allow_skip: false
lost_reasons:
  - {id: price, name: 价格}
"""


async def test_the_pipeline_is_replaced_whole_by_an_admin_and_applies_at_once(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    admin = staff(staff_token, "admin-1", "admin")
    default = (await api.get("/v1/pipeline/", headers=staff(staff_token, "rep-li"))).json()
    broken = await api.put("/v1/pipeline/", content="stages: [{id: Bad Id, probability: 2}]\nlost_reasons: []",
                           headers=admin)
    assert broken.status_code == 422 and len(broken.json()["errors"]) >= 3
    assert (await api.put("/v1/pipeline/", content=PIPELINE, headers=staff(staff_token, "boss-east", "manager"))
            ).status_code == 403
    checked = await api.post("/v1/pipeline/validate", content=PIPELINE, headers=staff(staff_token, "boss", "manager"))
    assert checked.status_code == 200 and checked.json()["stages"] == ["discovery", "demo", "signing"]
    replaced = await api.put("/v1/pipeline/", content=PIPELINE, headers=admin)
    assert replaced.status_code == 200
    try:
        yaml_text = (await api.get("/v1/pipeline/", params={"format": "yaml"}, headers=admin)).text
        assert "需求发现" in yaml_text
        lead_id = await owned_lead(db, "rep-li", company_name=unique("新流程"))
        made = (await api.post(f"/v1/leads/{lead_id}/convert", headers=staff(staff_token, "rep-li"),
                               json={"opportunity": {"name": "x", "amount": 1}})).json()
        deal = str(made["opportunity_id"])
        shown = (await api.get(f"/v1/opportunities/{deal}", headers=staff(staff_token, "rep-li"))).json()
        assert shown["stage"] == "discovery"
        skipped = await move(api, staff_token, deal, "signing")
        assert skipped.status_code == 409 and skipped.json()["code"] == "skipped_stage"
        assert (await move(api, staff_token, deal, "demo")).status_code == 200
    finally:
        restore = {k: v for k, v in default.items() if k != "version"}
        assert (await api.put("/v1/pipeline/", json=restore, headers=admin)).status_code == 200
