"""intake's API through real HTTP, on real Postgres and Kafka (one intake process for the module)."""

from __future__ import annotations

import asyncio
import io
import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from openpyxl import Workbook

from leadflow_intake.cli import add_partner
from leadflow_localstack.testing import ServiceProcesses, eventually, produce, read_topic
from leadflow_shared.contracts import CUSTOMERS, LEADS_DUPLICATE_DETECTED, LEADS_RECEIVED, CustomerChanged
from leadflow_shared.events import CloudEvent
from leadflow_shared.service import Service


@pytest.fixture(scope="module")
def intake(leadflow_env: dict[str, str], migrated: dict[str, Service], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    env = {**leadflow_env, "LEADFLOW_KAFKA_GROUP_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
           "LEADFLOW_INTAKE_MAX_LEADS_PER_IP": "3"}
    processes = ServiceProcesses(env, tmp_path_factory.mktemp("intake"))
    running = processes.start(migrated["intake"])
    processes.wait_ready()
    yield running.url
    processes.stop_all()


def _partner(env: dict[str, str], rate: float = 1000.0) -> tuple[str, dict[str, str]]:
    partner_id, key = add_partner(f"p {uuid.uuid4().hex[:6]}", rate, dsn=env["LEADFLOW_PG_DSN"])
    return partner_id, {"Authorization": f"Bearer {key}"}


@pytest.fixture
def client(intake: str, leadflow_env: dict[str, str]) -> Iterator[httpx.Client]:
    _, auth = _partner(leadflow_env)
    with httpx.Client(base_url=intake, headers=auth, timeout=30) as c:
        yield c


def _mobile() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


# ---- authentication and rate ----------------------------------------------------------------

def test_no_key_or_a_revoked_key_is_401(intake: str, leadflow_env: dict[str, str]) -> None:
    assert httpx.post(f"{intake}/v1/leads", json={"mobile": _mobile()}).status_code == 401
    assert httpx.post(f"{intake}/v1/leads", json={}, headers={"Authorization": "Bearer lf_nope"}).status_code == 401
    partner_id, auth = _partner(leadflow_env)
    assert httpx.post(f"{intake}/v1/leads", json={"mobile": _mobile()}, headers=auth).status_code == 202
    revoked = subprocess.run([str(Path(sys.executable).parent / "leadflow"), "partners", "revoke", partner_id],
                             env={**leadflow_env, "PATH": ""}, capture_output=True, text=True)
    assert revoked.returncode == 0, revoked.stderr
    # A checked key is trusted for LEADFLOW_INTAKE_AUTH_CACHE_S (2 s by default), then refused.
    deadline = time.monotonic() + 4
    while (code := httpx.post(f"{intake}/v1/leads", json={"mobile": _mobile()}, headers=auth).status_code) != 401:
        assert code == 202 and time.monotonic() < deadline, code
        time.sleep(0.2)


def test_over_its_rate_a_partner_gets_429_with_retry_after(intake: str, leadflow_env: dict[str, str]) -> None:
    _, auth = _partner(leadflow_env, rate=2)
    codes = [httpx.post(f"{intake}/v1/leads", json={"mobile": _mobile()}, headers=auth) for _ in range(4)]
    assert [r.status_code for r in codes[:2]] == [202, 202]
    assert codes[-1].status_code == 429 and int(codes[-1].headers["Retry-After"]) >= 1


# ---- validation ----------------------------------------------------------------------------

def test_bad_input_gets_every_error_in_the_partners_language(client: httpx.Client) -> None:
    refused = client.post("/v1/leads", json={"mobile": "123", "email": "x@", "nickname": "?"},
                          headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert {"field": "nickname", "code": "unknown_field"}.items() <= errors[0].items()
    assert "未知字段" in errors[0]["message"]
    refused = client.post("/v1/leads", json={"mobile": "123", "email": "x@"}, headers={"Accept-Language": "en"})
    assert {(e["field"], e["code"]) for e in refused.json()["errors"]} == {("mobile", "invalid_phone"),
                                                                          ("email", "invalid_email")}
    assert client.post("/v1/leads", json={"name": "无联系方式"}).json()["errors"][0]["code"] == "missing_contact"


# ---- dedupe and merge ----------------------------------------------------------------------

def test_the_same_person_is_merged_and_the_owner_warned(client: httpx.Client, leadflow_env: dict[str, str]) -> None:
    mobile = _mobile()
    first = client.post("/v1/leads", json={"name": "張偉", "mobile": f"+86 {mobile[:3]}-{mobile[3:7]}-{mobile[7:]}",
                                           "company_name": "上海示例科技有限公司", "city": "上海"}).json()
    again = client.post("/v1/leads", json={"name": "张伟", "mobile": f"0086{mobile}", "email": "Z.W@Example.cn",
                                           "company_name": "示例科技（上海）有限公司"}).json()
    assert first["outcome"] == "created" and again["outcome"] == "merged"
    assert again["lead_id"] == again["duplicate_of"] == first["lead_id"]
    assert again["company_id"] == first["company_id"]
    colleague = client.post("/v1/leads", json={"name": "李雷", "email": f"li.{mobile}@example.cn",
                                               "company_name": "上海示例科技股份有限公司"}).json()
    assert colleague["outcome"] == "created" and colleague["company_id"] == first["company_id"]

    topic = leadflow_env["LEADFLOW_KAFKA_TOPIC_PREFIX"] + LEADS_RECEIVED.name
    received = asyncio.run(_events(leadflow_env, topic, first["lead_id"], 2))
    assert [e["data"]["outcome"] for e in received] == ["created", "merged"]
    assert received[1]["data"]["lead"]["mobile"] == f"+86{mobile}"
    assert received[1]["data"]["lead"]["email"] == "z.w@example.cn"  # blanks filled
    assert received[1]["data"]["lead"]["name"] == "張偉"  # what it had, it keeps
    warned = asyncio.run(_events(leadflow_env, leadflow_env["LEADFLOW_KAFKA_TOPIC_PREFIX"]
                                 + LEADS_DUPLICATE_DETECTED.name, first["lead_id"], 1))
    assert warned[0]["data"]["matched_on"] == "mobile"


async def _events(env: dict[str, str], topic: str, lead_id: str, count: int) -> list[dict]:  # type: ignore[type-arg]
    async def ours() -> list[dict]:  # type: ignore[type-arg]
        records = await read_topic(env["LEADFLOW_KAFKA_BOOTSTRAP"], topic, until=10**6, timeout_s=2)
        found = [json.loads(r.value) for r in records if r.key == lead_id.encode()]  # type: ignore[attr-defined]
        return found if len(found) >= count else []

    return await eventually(ours, timeout_s=30) or []


def test_concurrent_submissions_of_one_person_make_one_lead(intake: str, leadflow_env: dict[str, str]) -> None:
    _, auth = _partner(leadflow_env)
    mobile = _mobile()
    writings = [mobile, f"+86{mobile}", f"0086 {mobile}", f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"] * 5

    async def race() -> list[dict]:  # type: ignore[type-arg]
        async with httpx.AsyncClient(base_url=intake, headers=auth, timeout=30) as c:
            replies = await asyncio.gather(*(c.post("/v1/leads", json={"mobile": w}) for w in writings))
        return [r.json() for r in replies]

    answers = asyncio.run(race())
    assert sorted(a["outcome"] for a in answers).count("created") == 1
    assert len({a["lead_id"] for a in answers}) == 1


def test_concurrent_batches_naming_one_new_company_create_it_once(intake: str, leadflow_env: dict[str, str]) -> None:
    """Batches of known companies take no company lock; two that may create the same one still wait for
    each other, and the later links to the company the earlier created."""
    _, auth = _partner(leadflow_env)
    writings = ["{}科技有限公司", "{}科技有限责任公司", "{} 科技 有限公司", "{}科技（有限公司）", "{}科技股份有限公司"]

    async def race(brand: str) -> list[dict]:  # type: ignore[type-arg]
        batches = [[{"mobile": _mobile(), "company_name": writings[(b + n) % len(writings)].format(brand)}
                    for n in range(5)] for b in range(6)]
        async with httpx.AsyncClient(base_url=intake, headers=auth, timeout=30) as c:
            replies = await asyncio.gather(*(c.post("/v1/leads/batch", json={"leads": leads}) for leads in batches))
        return [result for reply in replies for result in reply.json()["results"]]

    for _ in range(3):
        brand = "".join(random.sample("青禾云帆星河远山明德汇智启航拓维", 4))
        results = asyncio.run(race(brand))
        assert [r["status"] for r in results] == ["accepted"] * 30
        assert len({r["company_id"] for r in results}) == 1, brand


def test_concurrent_single_posts_of_several_partners_commit_together(intake: str, leadflow_env: dict[str, str]
                                                                      ) -> None:
    partners = [_partner(leadflow_env) for _ in range(2)]
    posts = [(partners[i % 2], _mobile()) for i in range(40)]
    before = _group_commits(intake)

    async def at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=intake, timeout=30) as c:
            return await asyncio.gather(*(c.post("/v1/leads", json={"mobile": m, "name": f"并发{n}"}, headers=auth)
                                          for n, ((_, auth), m) in enumerate(posts)))

    replies = asyncio.run(at_once())
    assert [r.status_code for r in replies] == [202] * len(posts)
    assert {r.json()["outcome"] for r in replies} == {"created"}
    assert len({r.json()["lead_id"] for r in replies}) == len(posts)
    for partner_id, auth in partners:  # each post was recorded for its own partner
        listed = {s["lead_id"] for s in httpx.get(f"{intake}/v1/submissions", headers=auth).json()["submissions"]}
        assert listed == {r.json()["lead_id"] for r, ((p, _), _) in zip(replies, posts) if p == partner_id}
    groups, leads = (after - earlier for after, earlier in zip(_group_commits(intake), before))
    assert leads == len(posts)
    assert groups < len(posts), "posts that came together were committed one transaction each"


def _group_commits(intake: str) -> tuple[float, float]:
    """(transactions, leads) of intake's group commits so far, from its Prometheus metrics."""
    found = {}
    for line in httpx.get(f"{intake}/metrics").text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("leadflow_intake_group_commit_leads_count", "leadflow_intake_group_commit_leads_sum"):
            found[name] = float(value)
    return found.get("leadflow_intake_group_commit_leads_count", 0.0), found.get("leadflow_intake_group_commit_leads_sum", 0.0)


def test_a_lead_of_an_existing_customer_carries_it(client: httpx.Client, leadflow_env: dict[str, str]) -> None:
    customer_id = uuid.uuid4()
    event = CloudEvent[CustomerChanged](source="/tests", type=CUSTOMERS.event_type, subject=str(customer_id),
                                        data=CustomerChanged(customer_id=customer_id, name="杭州样例网络有限公司",
                                                             credit_code="9144030071526726XG", owner_id="rep-chen"))
    asyncio.run(produce(leadflow_env["LEADFLOW_KAFKA_BOOTSTRAP"], leadflow_env["LEADFLOW_KAFKA_TOPIC_PREFIX"]
                        + CUSTOMERS.name, event.to_bytes(), key=event.subject.encode()))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        accepted = client.post("/v1/leads", json={"mobile": _mobile(), "company_name": "杭州样例网络有限公司"}).json()
        if accepted["customer_id"]:
            break
        time.sleep(0.5)
    assert accepted["customer_id"] == str(customer_id)
    slipped = client.post("/v1/leads", json={"mobile": _mobile(), "company_name": "杭州样例网络有限公可"}).json()
    assert slipped["customer_id"] == str(customer_id), "a slip in the legal form is the same customer"
    elsewhere = client.post("/v1/leads", json={"mobile": _mobile(), "company_name": "样例网络(北京)有限公司"}).json()
    assert elsewhere["customer_id"] is None, "the same name in another region is another customer"


def test_a_lead_linked_to_a_company_by_a_typo_carries_its_customer(client: httpx.Client,
                                                                    leadflow_env: dict[str, str]) -> None:
    customer_id = uuid.uuid4()
    event = CloudEvent[CustomerChanged](source="/tests", type=CUSTOMERS.event_type, subject=str(customer_id),
                                        data=CustomerChanged(customer_id=customer_id, name="杭州样例云计算服务有限公司",
                                                             owner_id="rep-chen"))
    asyncio.run(produce(leadflow_env["LEADFLOW_KAFKA_BOOTSTRAP"], leadflow_env["LEADFLOW_KAFKA_TOPIC_PREFIX"]
                        + CUSTOMERS.name, event.to_bytes(), key=event.subject.encode()))
    body = {"company_name": "杭州样例云计算服务有限公司", "city": "杭州"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        first = client.post("/v1/leads", json={**body, "mobile": _mobile()}).json()
        if first["customer_id"]:
            break
        time.sleep(0.5)
    typo = client.post("/v1/leads", json={**body, "company_name": "杭州样例云计算月务有限公司", "mobile": _mobile()}).json()
    assert typo["company_id"] == first["company_id"]
    assert typo["customer_id"] == str(customer_id)


# ---- batch, idempotency -------------------------------------------------------------------

def test_a_bad_item_never_sinks_the_batch(client: httpx.Client) -> None:
    leads = [{"mobile": _mobile()}, {"mobile": "nope"}, {"email": f"{uuid.uuid4().hex}@example.cn"}, "not a lead"]
    reply = client.post("/v1/leads/batch", json={"leads": leads})
    assert reply.status_code == 202
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted", "rejected"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert results[1]["errors"][0]["code"] == "invalid_phone"
    assert reply.json()["accepted"] == 2
    too_many = client.post("/v1/leads/batch", json={"leads": [{"mobile": _mobile()}] * 1001})
    assert too_many.status_code == 422


def test_an_idempotent_retry_returns_the_first_answer_and_creates_nothing(client: httpx.Client) -> None:
    body, key = {"mobile": _mobile()}, {"Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/v1/leads", json=body, headers=key)
    retry = client.post("/v1/leads", json=body, headers=key)
    assert retry.status_code == 202 and retry.json() == first.json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    lead = client.get(f"/v1/leads/{first.json()['lead_id']}").json()
    assert len(lead["submissions"]) == 1
    other = client.post("/v1/leads", json={"mobile": _mobile()}, headers=key)
    assert other.status_code == 422 and other.json()["errors"][0]["code"] == "idempotency_key_reused"
    batch = {"leads": [{"mobile": _mobile()}]}
    batch_key = {"Idempotency-Key": uuid.uuid4().hex}
    assert client.post("/v1/leads/batch", json=batch, headers=batch_key).json() == \
        client.post("/v1/leads/batch", json=batch, headers=batch_key).json()


# ---- partner isolation and settlement ------------------------------------------------------

def test_a_partner_sees_only_what_it_submitted(intake: str, leadflow_env: dict[str, str]) -> None:
    _, a = _partner(leadflow_env)
    _, b = _partner(leadflow_env)
    mobile = _mobile()
    lead_id = httpx.post(f"{intake}/v1/leads", json={"mobile": mobile, "name": "A 的线索"}, headers=a).json()["lead_id"]
    assert httpx.get(f"{intake}/v1/leads/{lead_id}", headers=b).status_code == 404
    again = httpx.post(f"{intake}/v1/leads", json={"mobile": mobile}, headers=b).json()
    assert again["outcome"] == "merged"
    seen_by_b = httpx.get(f"{intake}/v1/leads/{lead_id}", headers=b).json()
    assert [s["fields"] for s in seen_by_b["submissions"]] == [{"mobile": mobile, "source": "other"}]
    listing = httpx.get(f"{intake}/v1/submissions", headers=b).json()["submissions"]
    assert [(s["lead_id"], s["outcome"]) for s in listing] == [(lead_id, "merged")]


def test_submissions_page_through_with_a_cursor(client: httpx.Client) -> None:
    since = client.post("/v1/leads", json={"mobile": _mobile()})
    for _ in range(4):
        client.post("/v1/leads", json={"mobile": _mobile()})
    page = client.get("/v1/submissions", params={"limit": 2}).json()
    seen = [s["submission_id"] for s in page["submissions"]]
    while page["next"]:
        page = client.get("/v1/submissions", params={"limit": 2, "after": page["next"]}).json()
        seen += [s["submission_id"] for s in page["submissions"]]
    assert len(seen) == len(set(seen)) == 5 and seen[0] == since.json()["submission_id"]


# ---- risk ----------------------------------------------------------------------------------

def test_a_burst_from_one_visitor_is_flagged_and_not_routed(client: httpx.Client, leadflow_env: dict[str, str]) -> None:
    ip = f"198.51.100.{uuid.uuid4().int % 250}"
    outcomes = [client.post("/v1/leads", json={"mobile": _mobile(), "client_ip": ip}).json()["outcome"]
                for _ in range(5)]
    assert outcomes == ["created", "created", "created", "flagged", "flagged"]  # max 3 per IP in the window
    assert client.post("/v1/leads", json={"email": "a@mailinator.com"}).json()["outcome"] == "flagged"



def test_a_burst_from_one_device_is_flagged(client: httpx.Client) -> None:
    device = f"device-{uuid.uuid4().hex}"
    outcomes = [client.post("/v1/leads", json={"mobile": _mobile(), "device_id": device}).json()["outcome"]
                for _ in range(6)]
    assert outcomes == ["created"] * 5 + ["flagged"]  # max 5 per device in the window (the default)


def test_blocklisted_numbers_domains_and_ip_ranges_are_flagged(client: httpx.Client,
                                                               leadflow_env: dict[str, str]) -> None:
    mobile, domain, net = _mobile(), f"{uuid.uuid4().hex[:8]}.example", f"10.{uuid.uuid4().int % 250}.7.0/24"

    async def block() -> None:
        conn = await asyncpg.connect(leadflow_env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.executemany("INSERT INTO intake.blocklist (kind, value) VALUES ($1, $2)",
                                   [("mobile", f"+86{mobile}"), ("email_domain", domain), ("ip_range", net)])
        finally:
            await conn.close()

    asyncio.run(block())
    flagged = [{"mobile": mobile}, {"email": f"x@{domain}"}, {"mobile": _mobile(), "client_ip": net.replace(".0/24", ".9")}]
    for lead in flagged:
        assert client.post("/v1/leads", json=lead).json()["outcome"] == "flagged", lead
    passing = {"mobile": _mobile(), "email": f"x@not-{domain}", "client_ip": net.replace(".7.0/24", ".8.9")}
    assert client.post("/v1/leads", json=passing).json()["outcome"] == "created"


# ---- imports -------------------------------------------------------------------------------

def _wait_import(client: httpx.Client, import_id: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = client.get(f"/v1/imports/{import_id}").json()
        if state["status"] in ("done", "failed"):
            return state  # type: ignore[no-any-return]
        time.sleep(0.3)
    raise AssertionError("the import never finished")


def test_a_csv_with_chinese_headers_imports_with_a_report_of_rejected_rows(client: httpx.Client) -> None:
    m1, m2 = _mobile(), _mobile()
    csv_text = ("姓名,手机号,邮箱,公司名称,备注\n"
                f"张三,{m1},,示例科技有限公司,老客户介绍\n"
                f"李四,12345,,,号码错了\n"
                f"张三,+86 {m1},zs@example.cn,,重复\n"
                f"王五,{m2},,,\n")
    started = client.post("/v1/imports", files={"file": ("线索.csv", csv_text.encode("utf-8-sig"))},
                          headers={"Accept-Language": "zh"})
    assert started.status_code == 202 and started.json()["total"] == 4
    state = _wait_import(client, started.json()["import_id"])
    assert (state["status"], state["processed"], state["created"], state["merged"], state["rejected"]) == \
        ("done", 4, 2, 1, 1)
    report = client.get(state["rejected_report_url"])
    assert report.status_code == 200
    text = report.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "row,errors,姓名,手机号,邮箱,公司名称,备注"
    assert text.splitlines()[1].startswith("3,mobile: 手机号码无效,李四,12345")


def test_an_xlsx_with_a_column_mapping_imports(client: httpx.Client) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Contact", "Cell", "Org"])
    sheet.append(["Han Meimei", int(_mobile()), "Example Trading Co., Ltd."])
    buffer = io.BytesIO()
    book.save(buffer)
    started = client.post("/v1/imports", files={"file": ("leads.xlsx", buffer.getvalue())},
                          data={"mapping": json.dumps({"Contact": "name", "Cell": "mobile", "Org": "company_name"})})
    assert started.status_code == 202
    state = _wait_import(client, started.json()["import_id"])
    assert (state["status"], state["created"], state["rejected"]) == ("done", 1, 0)


def test_an_unreadable_file_is_refused(client: httpx.Client) -> None:
    refused = client.post("/v1/imports", files={"file": ("x.xlsx", b"PK\x03\x04 not really a workbook")})
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "unreadable_file"


# ---- the OpenAPI document, fuzzed ----------------------------------------------------------

def test_schemathesis_finds_no_server_error(intake: str, leadflow_env: dict[str, str], tmp_path: Path) -> None:
    _, auth = _partner(leadflow_env)
    run = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", f"{intake}/schema/openapi.json",
         "--checks", "not_a_server_error", "--max-examples", "30", "-H", f"Authorization: {auth['Authorization']}",
         "--generation-deterministic"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-6000:]


def test_managers_see_each_partners_submissions_by_outcome(intake: str, leadflow_env: dict[str, str],
                                                           staff_token: object) -> None:
    partner_id, auth = _partner(leadflow_env)
    mobile = _mobile()
    with httpx.Client(base_url=intake, headers=auth, timeout=30) as client:
        client.post("/v1/leads", json={"name": "周末", "mobile": mobile, "company_name": "常州示例电子有限公司"})
        client.post("/v1/leads", json={"name": "周末", "mobile": f"+86{mobile}"})  # the same person: merged
        client.post("/v1/leads", json={"name": "吴越", "mobile": _mobile(), "company_name": "嘉兴示例纺织有限公司"})
    manager = {"Authorization": staff_token("mgr-li", "manager", teams=["east"])}  # type: ignore[operator]
    report = httpx.get(f"{intake}/v1/reports/submissions", headers=manager).json()
    mine = next(p for p in report["partners"] if p["partner_id"] == partner_id)
    assert (mine["submissions"], mine["created"], mine["merged"], mine["flagged"], mine["leads"]) == (3, 2, 1, 0, 2)
    assert mine["name"].startswith("p ")
    rep = {"Authorization": staff_token("rep-wang", "rep", teams=["east"])}  # type: ignore[operator]
    assert httpx.get(f"{intake}/v1/reports/submissions", headers=rep).status_code == 403
    assert httpx.get(f"{intake}/v1/reports/submissions", headers=auth).status_code == 401  # a partner's key
    backwards = httpx.get(f"{intake}/v1/reports/submissions", headers=manager,
                          params={"from": "2026-12-31", "to": "2026-12-01"})
    assert backwards.status_code == 400
