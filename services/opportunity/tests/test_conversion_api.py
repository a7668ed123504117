"""Converting leads over HTTP (线索转商机): into a new customer and into an existing one (B2B by credit code or
name, B2C by mobile), contacts deduplicated, acceptance (SQL) and the manager's override, converting twice,
someone else's lead; and the events the conversion leaves in the outbox."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from stdnum.cn import uscc
from litestar.testing import AsyncTestClient

from .conftest import Token, owned_lead, staff, unique
from leadflow_shared.db import Database


def request(name: str = "示例科技 CRM 项目", **parts: Any) -> dict[str, Any]:
    return {"opportunity": {"name": name, "amount": 120000, "expected_close": "2027-03-31",
                            "product_line": "crm"}, **parts}


async def outbox(env: dict[str, str], key: Any) -> list[tuple[str, dict[str, Any]]]:
    conn = await asyncpg.connect(env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch("SELECT topic, payload FROM opportunity.outbox WHERE key = $1 ORDER BY id", str(key))
    finally:
        await conn.close()
    return [(r["topic"], json.loads(r["payload"])["data"]) for r in rows]


async def test_a_lead_converts_into_a_new_customer_contact_and_opportunity(
        api: AsyncTestClient[Any], db: Database, staff_token: Token, settings_env: dict[str, str]) -> None:
    company = unique("星河数据")
    lead_id = await owned_lead(db, "rep-li", company_name=f"{company}有限公司", email="Li.Lei@Example.com")
    response = await api.post(f"/v1/leads/{lead_id}/convert", json=request(), headers=staff(staff_token, "rep-li"))
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["merged"] is False and result["override"] is False and result["converted_by"] == "rep-li"

    customer = (await api.get(f"/v1/customers/{result['customer_id']}", headers=staff(staff_token, "rep-li"))).json()
    assert customer["kind"] == "company" and customer["name"] == f"{company}有限公司"
    assert customer["lead_ids"] == [str(lead_id)]
    assert [c["email"] for c in customer["contacts"]] == ["li.lei@example.com"]
    opportunity = (await api.get(f"/v1/opportunities/{result['opportunity_id']}",
                                 headers=staff(staff_token, "rep-li"))).json()
    assert (opportunity["stage"], opportunity["status"], float(opportunity["probability"])) == (
        "initial_contact", "open", 0.1)
    assert [(h["from_stage"], h["to_stage"], h["by"]) for h in opportunity["history"]] == [
        (None, "initial_contact", "rep-li")]
    lead = (await api.get(f"/v1/leads/{lead_id}", headers=staff(staff_token, "rep-li"))).json()
    assert lead["status"] == "converted" and lead["conversion"]["opportunity_id"] == result["opportunity_id"]

    events = await outbox(settings_env, lead_id)
    assert [t.endswith(name) for (t, _), name in zip(events, ["leads.converted.v1", "opportunities.v1"])] == [True] * 2
    assert len(events) == 2 and events[1][1]["change"] == "created"
    (customer_topic, customer_event), = await outbox(settings_env, result["customer_id"])
    assert customer_topic.endswith("customers.v1")
    assert (customer_event["change"], customer_event["lead_id"]) == ("created", str(lead_id))
    assert customer_event["emails"] == ["li.lei@example.com"]


async def test_a_lead_of_a_known_company_merges_into_it_and_its_contact_is_found_again(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    core = unique("云帆")
    mobile = f"+86137{uuid.uuid4().int % 10**8:08d}"
    first = await owned_lead(db, "rep-li", company_name=f"上海{core}科技有限公司", mobile=mobile)
    second = await owned_lead(db, "rep-li", company_name=f"{core}科技(上海)有限公司", mobile=mobile,
                              wechat="yunfan_boss")
    made = (await api.post(f"/v1/leads/{first}/convert", json=request(), headers=staff(staff_token, "rep-li"))).json()
    response = await api.post(f"/v1/leads/{second}/convert", json=request("二期"), headers=staff(staff_token, "rep-li"))
    assert response.status_code == 201, response.text
    merged = response.json()
    assert merged["merged"] is True and merged["customer_id"] == made["customer_id"]
    assert merged["contact_id"] == made["contact_id"]  # one mobile: one contact, now with the WeChat id too
    assert merged["opportunity_id"] != made["opportunity_id"]
    customer = (await api.get(f"/v1/customers/{made['customer_id']}", headers=staff(staff_token, "rep-li"))).json()
    assert len(customer["contacts"]) == 1 and customer["contacts"][0]["wechat"] == "yunfan_boss"
    assert len(customer["opportunities"]) == 2 and customer["lead_ids"] == [str(first), str(second)]

    # a new person at the same company is a second contact of the one customer
    third = await owned_lead(db, "rep-li", company_name=f"{core}科技(上海)有限公司", email="cfo@yunfan.example")
    body = request("三期", contact={"name": "财务总监", "mobile": None})
    third_result = (await api.post(f"/v1/leads/{third}/convert", json=body,
                                   headers=staff(staff_token, "rep-li"))).json()
    assert third_result["customer_id"] == made["customer_id"] and third_result["contact_id"] != made["contact_id"]


async def test_a_name_with_a_slipped_group_marker_merges_into_the_known_company(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    core = unique("鼎新")
    first = await owned_lead(db, "rep-li", company_name=f"{core}集团股份有限公司")
    second = await owned_lead(db, "rep-li", company_name=f"{core}东团股份有限公司")
    headers = staff(staff_token, "rep-li")
    made = (await api.post(f"/v1/leads/{first}/convert", json=request(), headers=headers)).json()
    again = (await api.post(f"/v1/leads/{second}/convert", json=request("二期"), headers=headers)).json()
    assert again["merged"] is True and again["customer_id"] == made["customer_id"]


async def test_a_credit_code_makes_one_company_whatever_its_names(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    base = f"91310000{uuid.uuid4().int % 10**9:09d}"
    code = base + uscc.calc_check_digit(base)
    first = await owned_lead(db, "rep-li", company_name=unique("甲公司"))
    second = await owned_lead(db, "rep-li", company_name=unique("乙公司"))
    headers = staff(staff_token, "rep-li")
    made = (await api.post(f"/v1/leads/{first}/convert", json=request(customer={"credit_code": code}),
                           headers=headers)).json()
    again = (await api.post(f"/v1/leads/{second}/convert", json=request(customer={"credit_code": code.lower()}),
                            headers=headers)).json()
    assert made["merged"] is False
    assert again["merged"] is True and again["customer_id"] == made["customer_id"]
    found = (await api.get("/v1/customers/", params={"q": code}, headers=headers)).json()
    assert [c["customer_id"] for c in found] == [made["customer_id"]]


async def test_b2c_one_mobile_makes_one_customer(b2c_api: AsyncTestClient[Any], db: Database,
                                                 staff_token: Token) -> None:
    mobile = f"+86136{uuid.uuid4().int % 10**8:08d}"
    first = await owned_lead(db, "rep-li", name="赵女士", mobile=mobile, company_name=None)
    second = await owned_lead(db, "rep-li", name="赵女士", mobile=mobile, company_name=None, source="referral")
    headers = staff(staff_token, "rep-li")
    made = (await b2c_api.post(f"/v1/leads/{first}/convert", json=request("瑜伽年卡"), headers=headers)).json()
    again = (await b2c_api.post(f"/v1/leads/{second}/convert", json=request("私教课"), headers=headers)).json()
    assert made["merged"] is False and again["merged"] is True and again["customer_id"] == made["customer_id"]
    customer = (await b2c_api.get(f"/v1/customers/{made['customer_id']}", headers=headers)).json()
    assert (customer["kind"], customer["mobile"], customer["name"]) == ("person", mobile, "赵女士")
    assert len(customer["opportunities"]) == 2 and len(customer["contacts"]) == 1

    nobody = await owned_lead(db, "rep-li", mobile=None, company_name=None)
    refused = await b2c_api.post(f"/v1/leads/{nobody}/convert", json=request(),
                                 headers=staff(staff_token, "rep-li", **{"Accept-Language": "zh-CN"}))
    assert refused.status_code == 422 and refused.json()["code"] == "mobile_required"
    assert "手机号" in refused.json()["detail"]


async def test_converting_twice_is_refused_with_the_existing_result(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    lead_id = await owned_lead(db, "rep-li", company_name=unique("重复公司"))
    headers = staff(staff_token, "rep-li")
    made = (await api.post(f"/v1/leads/{lead_id}/convert", json=request(), headers=headers)).json()
    again = await api.post(f"/v1/leads/{lead_id}/convert", json=request("另一个"), headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "converted" and again.json()["result"] == made


async def test_only_the_owner_or_a_manager_of_its_team_converts(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    lead_id = await owned_lead(db, "rep-li", team="east", company_name=unique("归属公司"))
    other = await api.post(f"/v1/leads/{lead_id}/convert", json=request(),
                           headers=staff(staff_token, "rep-wang", **{"Accept-Language": "zh"}))
    assert other.status_code == 403 and other.json()["detail"] == "该线索由他人跟进"
    elsewhere = await api.post(f"/v1/leads/{lead_id}/convert", json=request(),
                               headers=staff(staff_token, "boss-north", "manager", team="north"))
    assert elsewhere.status_code == 403
    anonymous = await api.post(f"/v1/leads/{lead_id}/convert", json=request())
    assert anonymous.status_code == 401
    manager = await api.post(f"/v1/leads/{lead_id}/convert", json=request(),
                             headers=staff(staff_token, "boss-east", "manager", team="east"))
    assert manager.status_code == 201 and manager.json()["converted_by"] == "boss-east"
    unknown = await api.post(f"/v1/leads/{uuid.uuid4()}/convert", json=request(), headers=staff(staff_token, "rep-li"))
    assert unknown.status_code == 404


async def test_sales_accept_a_lead_before_converting_it_unless_a_manager_overrides(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    lead_id = await owned_lead(db, "rep-li", accepted=False, company_name=unique("待认可"))
    headers = staff(staff_token, "rep-li")
    early = await api.post(f"/v1/leads/{lead_id}/convert", json=request(), headers=headers)
    assert early.status_code == 409 and early.json()["code"] == "not_accepted"
    accepted = await api.post(f"/v1/leads/{lead_id}/accept", headers=headers)
    assert accepted.status_code == 200 and accepted.json()["override"] is False
    assert (await api.post(f"/v1/leads/{lead_id}/accept", headers=headers)).status_code == 409
    assert (await api.post(f"/v1/leads/{lead_id}/convert", json=request(), headers=headers)).status_code == 201

    overridden = await owned_lead(db, "rep-li", accepted=False, company_name=unique("经理转化"))
    response = await api.post(f"/v1/leads/{overridden}/convert", json=request(),
                              headers=staff(staff_token, "boss-east", "manager"))
    assert response.status_code == 201 and response.json()["override"] is True


async def test_a_conversion_with_bad_details_loses_nothing_and_says_why(
        api: AsyncTestClient[Any], db: Database, staff_token: Token) -> None:
    lead_id = await owned_lead(db, "rep-li", company_name=None)
    headers = staff(staff_token, "rep-li")
    nameless = await api.post(f"/v1/leads/{lead_id}/convert", json=request(), headers=headers)
    assert nameless.status_code == 422 and nameless.json()["code"] == "company_required"
    bad_stage = await api.post(f"/v1/leads/{lead_id}/convert", headers=headers, json={
        "customer": {"name": "某公司"}, "opportunity": {"name": "x", "amount": 1, "stage": "won"}})
    assert bad_stage.status_code == 422 and bad_stage.json()["code"] == "unknown_stage"
    bad_body = await api.post(f"/v1/leads/{lead_id}/convert", headers=headers, json={"opportunity": {"amount": -1}})
    assert bad_body.status_code == 400
    bad_mobile = await api.post(f"/v1/leads/{lead_id}/convert", headers=headers,
                                json=request(customer={"name": "某公司"}, contact={"mobile": "12"}))
    assert bad_mobile.status_code == 422 and bad_mobile.json()["code"] == "bad_mobile"
    ok = await api.post(f"/v1/leads/{lead_id}/convert", headers=headers,
                        json=request(customer={"name": unique("后补公司")}))
    assert ok.status_code == 201
