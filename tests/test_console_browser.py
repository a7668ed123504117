"""The console in a real browser (Debian's Chromium driven through its ChromeDriver) against every service as a
real process on real Postgres, Kafka and Temporal: a rep signs in, claims a lead, logs a follow-up and converts
it; a manager sees the funnel change and assigns from the queue; a phone-sized screen shows the rep's pages
without scrolling sideways. Screenshots of the main pages go to test-output/console/."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import Select, WebDriverWait

from leadflow_assignment.cli import load_org, load_rules
from leadflow_console.cli import set_account
from leadflow_localstack.testing import ServiceProcesses
from leadflow_pool.cli import load_pools
from leadflow_shared.service import Service

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "console"
PASSWORD = "console-test-password"
BANT = {"budget": "预算50万", "authority": "决策人", "need": "替换现有CRM", "timeline": "3个月内"}


def _browser(width: int, height: int, language: str = "zh-CN") -> WebDriver:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: run `make setup` (it installs Debian's chromium and chromium-driver)",
                        pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="leadflow-chromium-")
    # this closed network refuses Chromium's own background connections: they are turned off
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 f"--lang={language}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    if width < 600:  # a phone: its screen's width and pixel ratio, not a narrow desktop window
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height,
                                                                              "pixelRatio": 3.0}})
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver._leadflow_profile = profile  # type: ignore[attr-defined]
    return driver


@pytest.fixture
def browsers() -> Iterator[Callable[..., WebDriver]]:
    opened: list[WebDriver] = []

    def open_one(width: int = 1280, height: int = 900, language: str = "zh-CN") -> WebDriver:
        opened.append(_browser(width, height, language))
        return opened[-1]

    yield open_one
    for driver in opened:
        try:
            driver.quit()
        except WebDriverException:
            pass
        shutil.rmtree(driver._leadflow_profile, ignore_errors=True)  # type: ignore[attr-defined]


def shot(driver: WebDriver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def sign_in(driver: WebDriver, base: str, person: str) -> None:
    driver.get(f"{base}/sign-in")
    driver.find_element(By.ID, "f-person").send_keys(person)
    driver.find_element(By.ID, "f-password").send_keys(PASSWORD)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/sign-in'] button[type=submit]"))
    assert "/sign-in" not in driver.current_url, driver.find_element(By.TAG_NAME, "main").text


def submit(driver: WebDriver, button: WebElement) -> None:
    """Click a form's button and wait for the page it leads to (never read the page being left)."""
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()

    def left(_: WebDriver) -> bool:
        try:
            page.is_enabled()  # Chromium answers a page being replaced either as stale or as "not in the document"
        except WebDriverException:
            return True
        return False

    WebDriverWait(driver, 30).until(left)


def flash(driver: WebDriver) -> str:
    return WebDriverWait(driver, 20).until(until.presence_of_element_located((By.CSS_SELECTOR, ".flash"))).text


def poll(probe: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"never: {what}")


def no_sideways_scroll(driver: WebDriver) -> tuple[int, int]:
    return driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")


def funnel_opportunities(driver: WebDriver, base: str) -> int:
    driver.get(f"{base}/manage/funnel")
    table = driver.find_element(By.CSS_SELECTOR, "[data-testid=funnel-table]")
    step = table.find_elements(By.CSS_SELECTOR, "tr[data-step=opportunities] [data-count]")
    assert step, f"no opportunities step on the funnel page: {table.text}"
    return int(step[0].text)


def test_a_rep_and_a_manager_work_in_the_console(
    service_processes: ServiceProcesses, migrated: dict[str, Service], partner: tuple[str, str],
    service_env: dict[str, str], staff_token: Any, browsers: Callable[..., WebDriver],
) -> None:
    dsn = service_env["LEADFLOW_PG_DSN"]
    team, pool_id = f"east-{uuid.uuid4().hex[:6]}", f"pool-{uuid.uuid4().hex[:6]}"
    rep, manager = f"rep-wang-{team}", f"mgr-li-{team}"
    load_rules("rules: []", dsn=dsn)  # the rules other tests left name their teams: none while the org changes
    load_org(f"teams: [{{id: {team}, name: 华东电销, managers: [{manager}], default_pool: {pool_id}}}]\n"
             f"reps: [{{id: {rep}, name: 王芳, team: {team}}}]", dsn=dsn)
    load_rules(f"rules:\n  - {{id: to-queue, when: {{custom: {{route: [queue]}}}}, strategy: manual, team: {team}}}\n"
               f"  - {{id: to-pool, strategy: pool, team: {team}}}\n", dsn=dsn)
    load_pools(f"default_pool: {pool_id}\npools:\n  - id: {pool_id}\n    name: 华东公海\n"
               f"    viewers: {{teams: [{team}]}}\n    claimers: {{teams: [{team}]}}\n"
               f"    managers: {{staff: [{manager}]}}\n", dsn=dsn)
    asyncio.run(set_account(rep, ["rep"], [team], PASSWORD, name="王芳", dsn=dsn))
    asyncio.run(set_account(manager, ["manager"], [team], PASSWORD, name="李经理", dsn=dsn))

    pipeline = ["intake", "scoring", "assignment", "pool", "opportunity"]
    running = {name: service_processes.start(migrated[name]) for name in pipeline}
    # notify's robots on a port nothing answers: each message stays on record, its tries failing
    service_processes.env = {**service_processes.env, "LEADFLOW_NOTIFY_WECOM_URL": "http://127.0.0.1:9/send"}
    running["notify"] = service_processes.start(migrated["notify"])
    pipeline.append("notify")
    service_processes.env = {**service_processes.env, **{f"LEADFLOW_CONSOLE_{name.upper()}_URL": running[name].url
                                                         for name in pipeline}}
    console = service_processes.start(migrated["console"])
    service_processes.wait_ready()
    base = console.url

    partner_auth = {"Authorization": f"Bearer {partner[1]}"}
    mobile = f"139{uuid.uuid4().int % 10**8:08d}"
    pooled = httpx.post(f"{running['intake'].url}/v1/leads", headers=partner_auth, timeout=10, json={
        "name": "赵敏", "mobile": mobile, "company_name": "苏州示例精密机械有限公司", "source": "website",
        "title": "采购总监", "bant": BANT}).json()["lead_id"]
    queued = httpx.post(f"{running['intake'].url}/v1/leads", headers=partner_auth, timeout=10, json={
        "name": "钱进", "mobile": f"137{uuid.uuid4().int % 10**8:08d}", "company_name": "无锡样例科技有限公司",
        "source": "website", "title": "总经理", "bant": BANT, "custom": {"route": "queue"}}).json()["lead_id"]
    admin = {"Authorization": staff_token("test-admin", "admin")}
    poll(lambda: httpx.get(f"{running['pool'].url}/v1/leads/{pooled}", headers=admin).json().get("status") == "in_pool",
         "the first lead waits in the pool")
    poll(lambda: httpx.get(f"{running['assignment'].url}/v1/leads/{queued}/assignment", headers=admin).json()
         .get("status") == "queued", "the second lead waits in the manager's queue")

    # the manager's funnel before
    boss = browsers()
    sign_in(boss, base, manager)
    before = funnel_opportunities(boss, base)
    shot(boss, "manager-funnel-before")

    # a rep signs in, claims from the pool (contacts masked until then), logs a follow-up, converts
    me = browsers()
    sign_in(me, base, rep)
    assert "/my/leads" in me.current_url
    shot(me, "rep-my-leads-empty")
    me.get(f"{base}/pools/{pool_id}")
    row = me.find_element(By.XPATH, f"//a[@href='/leads/{pooled}']/ancestor::tr")
    assert mobile not in row.text and "*" in row.text, row.text  # masked until claimed
    shot(me, "rep-pool")
    submit(me, row.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "领取成功" in flash(me)
    assert me.current_url.endswith(f"/leads/{pooled}") and mobile in me.page_source
    shot(me, "rep-lead-claimed")

    Select(me.find_element(By.ID, "f-type")).select_by_value("call")
    me.find_element(By.ID, "f-note").send_keys("电话沟通，客户有替换计划")
    submit(me, me.find_element(By.CSS_SELECTOR, "#follow-up button[type=submit]"))
    assert "跟进已记录" in flash(me)
    assert "电话沟通，客户有替换计划" in me.find_element(By.CSS_SELECTOR, ".timeline").text

    # opportunity hears of the claim through Kafka; then the rep converts
    owner = {"Authorization": staff_token(rep, "rep", teams=[team])}
    poll(lambda: httpx.get(f"{running['opportunity'].url}/v1/leads/{pooled}", headers=owner).json()
         .get("owner_id") == rep, "opportunity knows the rep owns the lead")
    me.get(f"{base}/leads/{pooled}")
    me.find_element(By.ID, "f-opportunity_name").send_keys("精密机械 CRM 年度订阅")
    me.find_element(By.ID, "f-amount").send_keys("120000")
    submit(me, me.find_element(By.CSS_SELECTOR, "#convert button[type=submit]"))
    assert "转化成功" in flash(me)
    assert "/my/opportunities" in me.current_url and "精密机械 CRM 年度订阅" in me.page_source
    shot(me, "rep-opportunities")
    deal = me.find_element(By.XPATH, "//td[contains(., '精密机械 CRM 年度订阅')]/ancestor::tr")
    Select(deal.find_element(By.NAME, "to")).select_by_value("needs_analysis")
    submit(me, deal.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "阶段已更新" in flash(me)
    assert "需求调研" in me.find_element(By.XPATH, "//td[contains(., '精密机械 CRM 年度订阅')]/ancestor::tr").text

    # the rep chooses where notify reaches him
    me.get(f"{base}/my/notifications/settings")
    me.find_element(By.ID, "f-wecom_key").send_keys("0a1b2c3d-robot-key")
    for name, value in (("f-quiet_start", "22:00"), ("f-quiet_end", "08:00")):  # time inputs type by locale
        me.execute_script("arguments[0].value = arguments[1]", me.find_element(By.ID, name), value)
    submit(me, me.find_element(By.CSS_SELECTOR, "#settings button[type=submit]"))
    assert "消息设置已保存" in flash(me)
    assert me.find_element(By.ID, "f-wecom_key").get_attribute("value").endswith("-key")  # masked, kept
    shot(me, "rep-notification-settings")
    settings = httpx.get(f"{running['notify'].url}/v1/recipients/{rep}", headers=owner)
    assert settings.status_code == 200 and settings.json()["channels"][0]["channel"] == "wecom", settings.text
    assert settings.json()["quiet_hours"] == {"start": "22:00", "end": "08:00"}

    # the manager sees the funnel change, then assigns the queued lead to the rep
    after = poll(lambda: (lambda n: n if n > before else None)(funnel_opportunities(boss, base)),
                 "the funnel counts the new opportunity")
    assert after == before + 1
    shot(boss, "manager-funnel-after")
    boss.get(f"{base}/manage/queue")
    form = boss.find_element(By.CSS_SELECTOR, f"form[action='/manage/queue/{queued}/assign']")
    Select(form.find_element(By.NAME, "rep_id")).select_by_value(rep)
    shot(boss, "manager-queue")
    submit(boss, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "分配成功" in flash(boss)
    assignment = httpx.get(f"{running['assignment'].url}/v1/leads/{queued}/assignment", headers=admin).json()
    assert (assignment["status"], assignment["owner_id"]) == ("assigned", rep)

    # the rep's notifications list the new lead's message (its WeCom robot unreachable: tried, kept on record)
    def told() -> bool:
        me.get(f"{base}/my/notifications")
        return f"/leads/{queued}" in me.page_source
    poll(told, "the rep's notifications show the assigned lead")
    shot(me, "rep-notifications")
    for page in ("distribution", "flags", "leaderboard", "partners", "rules", "transfers", "distribute"):
        boss.get(f"{base}/manage/{page}")
        assert boss.find_element(By.TAG_NAME, "h1").text and "Traceback" not in boss.page_source, page
        shot(boss, f"manager-{page}")

    # the rules in force replayed against themselves: the comparison shows, with no change
    boss.get(f"{base}/manage/rules")
    submit(boss, boss.find_element(By.CSS_SELECTOR, "form[action='/manage/rules'] button[type=submit]"))
    simulation = WebDriverWait(boss, 30).until(
        until.presence_of_element_located((By.CSS_SELECTOR, "[data-testid=simulation]")))
    assert "现行" in simulation.text and "拟议" in simulation.text and "+0.00" in simulation.text, simulation.text
    shot(boss, "manager-rules-simulated")

    # a phone: the rep's pages fit the screen's width
    phone = browsers(390, 844)
    sign_in(phone, base, rep)
    poll(lambda: httpx.get(f"{running['pool'].url}/v1/me/leads", headers=owner).json(), "the rep holds a lead")
    for name, path in (("my-leads", "/my/leads"), ("pools", "/pools"), ("pool", f"/pools/{pool_id}"),
                       ("lead", f"/leads/{queued}"), ("opportunities", "/my/opportunities")):
        phone.get(base + path)
        width, screen = no_sideways_scroll(phone)
        shot(phone, f"phone-{name}")
        assert screen <= 400 and width <= screen, f"{path} is {width}px wide on a {screen}px screen"

    # English when the browser prefers it
    english = browsers(language="en-US")
    english.get(f"{base}/sign-in")
    assert english.find_element(By.TAG_NAME, "h1").text == "Sign in"
