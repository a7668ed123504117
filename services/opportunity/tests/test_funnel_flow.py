"""A scripted history through real Kafka and Postgres: twelve leads received, scored, assigned and transferred
(other services' events), accepted, converted, won, lost and paid (opportunity's API and billing's event); then
the funnel, channel ROI, leaderboard with targets, SDR credit and the chart are checked figure by figure, and
the events opportunity published are read back by a consumer of its own."""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from litestar.testing import AsyncTestClient
from pydantic import BaseModel

from leadflow_localstack.testing import eventually
from leadflow_shared.contracts import (
    CUSTOMERS, LEADS_ASSIGNED, LEADS_CONVERTED, LEADS_RECEIVED, LEADS_SCORED, LEADS_TRANSFERRED, OPPORTUNITIES,
    OPPORTUNITIES_CLOSED, PAYMENTS_RECEIVED, LeadAssigned, LeadReceived, LeadScored, LeadSnapshot, LeadTransferred,
    PaymentReceived, Topic,
)
from leadflow_shared.db import Database
from leadflow_shared.events import CloudEvent
from leadflow_shared.kafka import ensure_topics, physical_topic

from .conftest import Token, owned_lead, staff, unique

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH = datetime(2025, 3, 3, 10, tzinfo=SHANGHAI)  # a month no other test writes to


@dataclass(frozen=True)
class Script:
    source: str
    partner: str | None = None
    mql: bool = False
    owner: str | None = None  # "A" or "B"
    sdr: bool = False
    accept: bool = False
    convert: bool = False
    outcome: str | None = None  # won, lost
    amount: float = 0
    paid: bool = False
    transfer_to: str | None = None


HISTORY = [
    Script("paid_ads", mql=True, owner="A", sdr=True, accept=True, convert=True, outcome="won", amount=100000, paid=True),
    Script("paid_ads", mql=True, owner="A", sdr=True, accept=True, convert=True, outcome="won", amount=50000),
    Script("paid_ads", mql=True, owner="A", accept=True, convert=True, amount=30000),
    Script("paid_ads", mql=True, owner="B", transfer_to="A", accept=True),
    Script("paid_ads"),
    Script("paid_ads"),
    Script("channel_partner", "P1", mql=True, owner="B", sdr=True, accept=True, convert=True, outcome="lost",
           amount=80000),
    Script("channel_partner", "P1", mql=True, owner="B", sdr=True, accept=True),
    Script("channel_partner", "P1"),
    Script("channel_partner", "P2", mql=True, owner="A"),
    Script("website", mql=True, owner="B"),
    Script("website"),
]


async def publish(env: dict[str, str], events: list[tuple[Topic, BaseModel, str, datetime]]) -> None:
    prefix = env["LEADFLOW_KAFKA_TOPIC_PREFIX"]
    await ensure_topics(env["LEADFLOW_KAFKA_BOOTSTRAP"], prefix=prefix,
                        partitions=int(env["LEADFLOW_KAFKA_TOPIC_PARTITIONS"]))
    producer = AIOKafkaProducer(bootstrap_servers=env["LEADFLOW_KAFKA_BOOTSTRAP"], acks="all")
    await producer.start()
    try:
        for topic, data, key, at in events:
            event = CloudEvent[Any](source="/tests", type=topic.event_type, subject=key, data=data, time=at,
                                    dataschema=topic.schema_urn)
            await producer.send_and_wait(physical_topic(topic.name, prefix), event.to_bytes(), key=key.encode())
    finally:
        await producer.stop()


def other_services_events(leads: list[uuid.UUID], names: dict[str, str], team: str, partners: dict[str, str],
                          sdr: str) -> list[tuple[Topic, BaseModel, str, datetime]]:
    events: list[tuple[Topic, BaseModel, str, datetime]] = []
    for i, (lead_id, s) in enumerate(zip(leads, HISTORY)):
        at = MARCH + timedelta(days=i, minutes=i)
        key = str(lead_id)
        snapshot = LeadSnapshot(name=f"客户{i}", mobile=f"+86139{uuid.uuid4().int % 10**8:08d}",
                                company_name=f"{unique('漏斗')}科技有限公司", source=s.source)
        events.append((LEADS_RECEIVED, LeadReceived(lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created",
                                                    partner_id=partners.get(s.partner or ""), lead=snapshot), key, at))
        if s.mql:
            events.append((LEADS_SCORED, LeadScored(lead_id=lead_id, score=80, grade="A", stage="mql",
                                                    rules_version="1"), key, at + timedelta(hours=1)))
        if s.owner:
            events.append((LEADS_ASSIGNED, LeadAssigned(
                lead_id=lead_id, owner_id=names[s.owner], rule="round_robin", team_id=team,
                assigned_at=at + timedelta(hours=2), qualified_by=sdr if s.sdr else None), key, at + timedelta(hours=2)))
        if s.transfer_to:
            events.append((LEADS_TRANSFERRED, LeadTransferred(
                lead_id=lead_id, from_owner_id=names[s.owner or ""], to_owner_id=names[s.transfer_to], by="boss",
                transferred_at=at + timedelta(hours=3)), key, at + timedelta(hours=3)))
    return events


async def test_a_scripted_history_adds_up_in_every_report(api: AsyncTestClient[Any], settings_env: dict[str, str],
                                                          staff_token: Token) -> None:
    team, sdr = unique("team"), unique("sdr")
    names = {"A": unique("rep-a"), "B": unique("rep-b")}
    partners = {"P1": unique("partner"), "P2": unique("partner")}
    leads = [uuid.uuid4() for _ in HISTORY]
    await publish(settings_env, other_services_events(leads, names, team, partners, sdr))
    rep_headers = {k: staff(staff_token, v, team=team) for k, v in names.items()}
    admin = staff(staff_token, "admin-1", "admin")

    async def owners_known() -> bool:
        for lead_id, s in zip(leads, HISTORY):
            if s.owner:
                shown = (await api.get(f"/v1/leads/{lead_id}", headers=admin)).json()
                if shown.get("owner_id") != names[s.transfer_to or s.owner] or shown.get("received_at") is None:
                    return False
        return True

    assert await eventually(owners_known, timeout_s=60), "opportunity never learned the leads' owners"

    deals: dict[int, str] = {}
    for i, (lead_id, s) in enumerate(zip(leads, HISTORY)):
        headers = rep_headers[s.transfer_to or s.owner or "A"]
        if s.accept:
            assert (await api.post(f"/v1/leads/{lead_id}/accept", headers=headers)).status_code == 200
        if s.convert:
            made = await api.post(f"/v1/leads/{lead_id}/convert", headers=headers,
                                  json={"opportunity": {"name": f"商机{i}", "amount": s.amount}})
            assert made.status_code == 201, made.text
            deals[i] = str(made.json()["opportunity_id"])
        if s.outcome == "won":
            await api.post(f"/v1/opportunities/{deals[i]}/stage", json={"to": "negotiation"}, headers=headers)
            won = await api.post(f"/v1/opportunities/{deals[i]}/stage", headers=headers,
                                 json={"to": "won", "contract_ref": unique("HT")})
            assert won.status_code == 200, won.text
        if s.outcome == "lost":
            lost = await api.post(f"/v1/opportunities/{deals[i]}/stage", headers=headers,
                                  json={"to": "lost", "lost_reason": "price"})
            assert lost.status_code == 200, lost.text
    paid = [i for i, s in enumerate(HISTORY) if s.paid]
    now = datetime.now(UTC)
    await publish(settings_env, [(PAYMENTS_RECEIVED, PaymentReceived(
        payment_id=unique("pay"), opportunity_id=uuid.UUID(deals[i]), amount=10000, received_at=now),
        deals[i], now) for i in paid])

    month = datetime.now(SHANGHAI).strftime("%Y-%m")
    loaded = await api.post("/v1/channel-spend", headers={**admin, "Content-Type": "text/csv"},
                            content=f"month,source,partner_id,amount\n2025-03,paid_ads,,20000\n"
                                    f"2025-03,channel_partner,{partners['P1']},5000\n")
    assert loaded.status_code == 200, loaded.text
    targets = [{"month": month, "kind": "rep", "subject_id": names["A"], "team_id": team, "amount": 200000},
               {"month": month, "kind": "rep", "subject_id": names["B"], "team_id": team, "amount": 100000}]
    assert (await api.post("/v1/targets", json=targets, headers=staff(staff_token, "boss", "manager", team=team))
            ).status_code == 200
    assert (await api.post("/v1/targets", json=targets, headers=staff(staff_token, "boss", "manager", team="other"))
            ).status_code == 403

    period = {"from": "2025-03-01", "to": "2025-03-31"}

    async def settled() -> dict[str, Any] | None:
        report = (await api.get("/v1/reports/funnel", params=period, headers=admin)).json()
        return report if [s["count"] for s in report["steps"]] == [12, 8, 6, 4, 2, 1] else None

    report = await eventually(settled, timeout_s=60)
    assert report, (await api.get("/v1/reports/funnel", params=period, headers=admin)).json()
    assert [s["rate"] for s in report["steps"]] == [None, 0.6667, 0.75, 0.6667, 0.5, 0.5]
    assert report["steps"][0]["label"] == "Leads" and report["won_amount"] == 150000
    assert report["realized_amount"] == 100000  # the deal's value, from its first payment

    around = (await api.get("/v1/reports/funnel", params={"from": "2025-02-15", "to": "2025-04-10"}, headers=admin)
              ).json()  # a whole month read by month, its edges by day
    assert [s["count"] for s in around["steps"]] == [12, 8, 6, 4, 2, 1]
    later = (await api.get("/v1/reports/funnel", params={"from": "2025-03-05", "to": "2025-03-31"}, headers=admin)
             ).json()  # leads 0 and 1 were received on the 3rd and 4th
    assert [s["count"] for s in later["steps"]] == [10, 6, 4, 2, 0, 0]
    by_month = (await api.get("/v1/reports/funnel", params={"from": "2025-02-15", "to": "2025-04-10", "group": "month"},
                              headers=admin)).json()
    assert [(g["group"], g["steps"][0]["count"]) for g in by_month["groups"]] == [("2025-03-01", 12)]

    by_source = (await api.get("/v1/reports/funnel", params={**period, "group": "source"}, headers=admin)).json()
    assert {g["group"]: [s["count"] for s in g["steps"]] for g in by_source["groups"]} == {
        "paid_ads": [6, 4, 4, 3, 2, 1], "channel_partner": [4, 3, 2, 1, 0, 0], "website": [2, 1, 0, 0, 0, 0]}
    by_rep = (await api.get("/v1/reports/funnel", params={**period, "group": "rep"}, headers=admin)).json()
    assert {g["group"]: [s["count"] for s in g["steps"]] for g in by_rep["groups"]} == {
        names["A"]: [5, 5, 4, 3, 2, 1], names["B"]: [3, 3, 2, 1, 0, 0], "(none)": [4, 0, 0, 0, 0, 0]}
    by_partner = (await api.get("/v1/reports/funnel", params={**period, "group": "partner", "source": "channel_partner"},
                                headers=admin)).json()
    assert {g["group"]: g["steps"][0]["count"] for g in by_partner["groups"]} == {partners["P1"]: 3, partners["P2"]: 1}
    mine = (await api.get("/v1/reports/funnel", params=period, headers=rep_headers["B"])).json()
    assert [s["count"] for s in mine["steps"]] == [3, 3, 2, 1, 0, 0]  # a rep sees his own
    managed = (await api.get("/v1/reports/funnel", params={**period, "team": "other"},
                             headers=staff(staff_token, "boss", "manager", team=team))).json()
    assert managed["steps"][0]["count"] == 0  # a manager sees only his teams

    csv_text = (await api.get("/v1/reports/funnel", params={**period, "group": "source", "format": "csv"},
                              headers=admin)).text
    assert csv_text.lstrip("\ufeff").splitlines()[1].startswith("paid_ads,6,4,4,3,2,1,0.6667,1.0,0.75,0.6667,0.5,")

    roi = (await api.get("/v1/reports/channel-roi", params=period, headers=admin)).json()
    channels = {c["source"]: c for c in roi["channels"]}
    assert (channels["paid_ads"]["spend"], channels["paid_ads"]["realized_amount"], channels["paid_ads"]["roi"],
            channels["paid_ads"]["cost_per_lead"], channels["paid_ads"]["cost_per_won"]) == (
        20000, 100000, 4.0, 3333.33, 10000.0)
    assert (channels["channel_partner"]["spend"], channels["channel_partner"]["roi"]) == (5000, -1.0)
    assert roi["total"]["spend"] == 25000 and roi["total"]["roi"] == 3.0
    per_partner = (await api.get("/v1/reports/channel-roi", params={**period, "by": "partner"}, headers=admin)).json()
    p1 = next(c for c in per_partner["channels"] if c.get("partner_id") == partners["P1"])
    assert (p1["leads"], p1["spend"], p1["cost_per_lead"]) == (3, 5000, 1666.67)
    assert (await api.get("/v1/reports/channel-roi", params=period, headers=rep_headers["A"])).status_code == 403

    board = (await api.get("/v1/reports/leaderboard", params={"month": month}, headers=admin)).json()
    rows = {r["id"]: r for r in board["rows"]}
    a, b = rows[names["A"]], rows[names["B"]]
    assert (a["realized"], a["realized_deals"], a["won"], a["won_amount"], a["target"], a["attainment"]) == (
        100000, 1, 2, 150000, 200000, 0.5)
    assert (b["realized"], b["won"], b["target"], b["attainment"]) == (0, 0, 100000, 0)
    assert a["rank"] < b["rank"]
    teams = (await api.get("/v1/reports/leaderboard", params={"month": month, "by": "team"},
                           headers=staff(staff_token, "boss", "manager", team=team))).json()
    assert [(r["id"], r["realized"], r["target"], r["attainment"]) for r in teams["rows"]] == [
        (team, 100000, 300000, 0.3333)]  # the team's target: its reps' targets summed
    cohort_board = (await api.get("/v1/reports/leaderboard", params={"month": "2025-03", "sort": "conversion_rate"},
                                  headers=rep_headers["A"])).json()
    assert [(r["id"], r["leads"], r["converted"], r["conversion_rate"]) for r in cohort_board["rows"]] == [
        (names["A"], 5, 3, 0.6), (names["B"], 3, 1, 0.3333)]
    board_csv = (await api.get("/v1/reports/leaderboard", params={"month": month, "format": "csv"},
                               headers=staff(staff_token, "boss", "manager", team=team))).text
    assert f"1,{names['A']},100000.0,200000.0,0.5," in board_csv

    credit = (await api.get("/v1/reports/sdr-credit", params={"from": "2025-03-01"}, headers=admin)).json()
    (sdr_row,) = [r for r in credit["rows"] if r["id"] == sdr]
    assert (sdr_row["handed_over"], sdr_row["opportunities"], sdr_row["won"], sdr_row["won_amount"],
            sdr_row["realized"]) == (4, 3, 2, 150000, 100000)

    stages = (await api.get("/v1/reports/time-in-stage", params={"rep": names["A"]}, headers=admin)).json()
    assert {s["stage"]: s["deals"] for s in stages["stages"]} == {"initial_contact": 2, "negotiation": 2}

    svg = await api.get("/v1/reports/funnel", params={**period, "format": "svg"},
                        headers={**admin, "Accept-Language": "zh-CN"})
    assert svg.headers["content-type"].startswith("image/svg+xml")
    texts = ["".join(t.itertext()) for t in ET.fromstring(svg.content).iter("{http://www.w3.org/2000/svg}text")]
    for shown in ("线索", "商机", "赢单", "回款", "12", "8", "6", "4", "2", "1", "转化率 66.7%", "转化率 75.0%",
                  "转化率 50.0%"):
        assert shown in texts, (shown, texts)
    png = await api.get("/v1/reports/funnel", params={**period, "format": "png"}, headers=admin)
    assert png.content.startswith(b"\x89PNG")

    await read_back_events(settings_env, leads, deals)


async def read_back_events(env: dict[str, str], leads: list[uuid.UUID], deals: dict[int, str]) -> None:
    """What another business system sees: CloudEvents, keyed by lead id (customers by customer id), whose data
    is the contract's."""
    prefix, bootstrap = env["LEADFLOW_KAFKA_TOPIC_PREFIX"], env["LEADFLOW_KAFKA_BOOTSTRAP"]
    converted_leads = {str(leads[i]) for i in deals}
    expected = {LEADS_CONVERTED: 4, OPPORTUNITIES: 4 + 2 * 2 + 1 + 1, OPPORTUNITIES_CLOSED: 3, CUSTOMERS: 4}
    for topic, count in expected.items():
        records = await read_ours(bootstrap, physical_topic(topic.name, prefix), converted_leads, count)
        events = [CloudEvent[topic.data_model].model_validate_json(r.value)  # type: ignore[name-defined]
                  for r in records]  # type: ignore[attr-defined]
        assert all(e.type == topic.event_type and e.subject == r.key.decode()  # type: ignore[attr-defined]
                   for e, r in zip(events, records))
        # (the session's database may hold other tests' outbox rows: only this history's count)
        ours = [e for e in events if str(e.data.lead_id) in converted_leads]
        assert len(ours) == count, (topic.name, len(ours))
        if topic is OPPORTUNITIES:
            assert sorted(e.data.change for e in ours) == sorted(
                ["created"] * 4 + ["stage_changed"] * 2 + ["won"] * 2 + ["lost", "realized"])
        if topic is CUSTOMERS:
            assert {e.data.change for e in ours} == {"created"} and all(e.subject == str(e.data.customer_id) for e in ours)
        else:
            assert all(e.subject == str(e.data.lead_id) for e in ours)


async def read_ours(bootstrap: str, topic: str, leads: set[str], count: int, timeout_s: float = 30) -> list[Any]:
    """A topic's records from its start until `count` of them concern these leads (and a second more)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
            if sum(any(lead.encode() in r.value for lead in leads) for r in records) >= count:
                break
        for batch in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_a_payment_for_no_known_deal_goes_to_the_dead_letter_topic_and_the_next_is_recorded(
        api: AsyncTestClient[Any], db: Database, settings_env: dict[str, str], staff_token: Token) -> None:
    prefix, bootstrap = settings_env["LEADFLOW_KAFKA_TOPIC_PREFIX"], settings_env["LEADFLOW_KAFKA_BOOTSTRAP"]
    rep = staff(staff_token, "rep-li")
    lead_id = await owned_lead(db, "rep-li", company_name=unique("回款公司"))
    deal = (await api.post(f"/v1/leads/{lead_id}/convert", headers=rep, json={
        "opportunity": {"name": "x", "amount": 9000, "stage": "contract"}})).json()["opportunity_id"]
    assert (await api.post(f"/v1/opportunities/{deal}/stage", headers=rep,
                           json={"to": "won", "contract_ref": unique("HT")})).status_code == 200
    stray, now = uuid.uuid4(), datetime.now(UTC)
    stray_id = unique("pay-stray")
    await publish(settings_env, [
        (PAYMENTS_RECEIVED, PaymentReceived(payment_id=stray_id, opportunity_id=stray, amount=100, received_at=now),
         str(stray), now),
        (PAYMENTS_RECEIVED, PaymentReceived(payment_id=unique("pay"), opportunity_id=uuid.UUID(deal), amount=100,
                                            received_at=now), deal, now)])
    dead = await read_ours(bootstrap, physical_topic(PAYMENTS_RECEIVED.dlq, prefix), {stray_id}, 1, timeout_s=60)
    assert [r for r in dead if stray_id.encode() in r.value], "the stray payment never reached the DLQ"

    async def realized() -> bool:
        shown = (await api.get(f"/v1/opportunities/{deal}", headers=rep)).json()
        return shown["realized_at"] is not None

    assert await eventually(realized, timeout_s=30), "the good payment was not recorded"
