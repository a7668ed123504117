"""Signing in to the console on the real Postgres: passwords, the pause after wrong ones, sessions that end,
forms refused without their CSRF token, the language switch, and a service that is away shown as a page."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from leadflow_console.app import service
from leadflow_console.cli import set_account
from leadflow_console.settings import ConsoleSettings

PASSWORD = "a-good-long-password"


@pytest.fixture
async def console(settings_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    # every service's API on a port nothing listens on: a page that needs one says it is away
    away = {f"console_{name}_url": "http://127.0.0.1:9" for name in
            ("intake", "scoring", "assignment", "pool", "opportunity", "notify")}
    settings = ConsoleSettings(console_sign_in_attempts=3, console_api_timeout_s=2, **away)  # type: ignore[arg-type]
    async with AsyncTestClient(app=service.create_app(settings)) as client:
        yield client


async def account(settings_env: dict[str, str], roles: list[str] | None = None) -> str:
    person = f"rep-{uuid.uuid4().hex[:8]}"
    await set_account(person, roles or ["rep"], ["east"], PASSWORD, name="王芳", dsn=settings_env["LEADFLOW_PG_DSN"])
    return person


async def csrf(client: AsyncTestClient[Any], path: str = "/sign-in") -> str:
    page = await client.get(path)
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


async def sign_in(client: AsyncTestClient[Any], person: str, password: str, target: str = "/my/leads") -> Any:
    return await client.post("/sign-in", data={"person": person, "password": password, "next": target,
                                               "_csrf_token": await csrf(client)}, follow_redirects=False)


async def test_a_person_signs_in_and_out(console: AsyncTestClient[Any], settings_env: dict[str, str]) -> None:
    person = await account(settings_env)
    signed = await sign_in(console, person, PASSWORD, "/pools")
    assert signed.status_code == 303 and signed.headers["location"] == "/pools"
    assert "HttpOnly" in signed.headers["set-cookie"] and "lf_session=" in signed.headers["set-cookie"]
    page = await console.get("/my/leads", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 503 and "公海服务 暂时无法访问" in page.text and "Traceback" not in page.text
    out = await console.post("/sign-out", data={"_csrf_token": await csrf(console)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/sign-in?bye=1"
    again = await console.get("/my/leads", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/sign-in?next=")


async def test_wrong_passwords_pause_the_account_and_say_so_in_chinese(
        console: AsyncTestClient[Any], settings_env: dict[str, str]) -> None:
    person = await account(settings_env)
    console.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
    for _ in range(2):
        wrong = await sign_in(console, person, "not-the-password")
        assert wrong.status_code == 401 and "账号或密码错误" in wrong.text
    locked = await sign_in(console, person, "not-the-password")
    assert locked.status_code == 401 and "密码错误次数过多" in locked.text
    still = await sign_in(console, person, PASSWORD)  # the right one waits for the pause too
    assert still.status_code == 401 and "密码错误次数过多" in still.text
    unknown = await sign_in(console, "nobody-here", PASSWORD)
    assert unknown.status_code == 401 and "账号或密码错误" in unknown.text  # no telling which ids exist


async def test_a_form_without_its_csrf_token_is_refused(console: AsyncTestClient[Any],
                                                        settings_env: dict[str, str]) -> None:
    person = await account(settings_env)
    refused = await console.post("/sign-in", data={"person": person, "password": PASSWORD},
                                 headers={"Accept-Language": "en"})
    assert refused.status_code == 403 and "The form expired" in refused.text
    assert "lf_session" not in console.cookies


async def test_the_language_is_the_browsers_until_the_person_switches(console: AsyncTestClient[Any]) -> None:
    assert "<h1>Sign in</h1>" in (await console.get("/sign-in", headers={"Accept-Language": "en-GB"})).text
    assert "<h1>登录</h1>" in (await console.get("/sign-in", headers={"Accept-Language": "zh-CN"})).text
    switched = await console.get("/language/zh?next=/sign-in", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/sign-in"
    assert "<h1>登录</h1>" in (await console.get("/sign-in", headers={"Accept-Language": "en-GB"})).text
    elsewhere = await console.get("/language/en?next=https://evil.example/", follow_redirects=False)
    assert elsewhere.headers["location"] == "/my/leads"


async def test_a_rep_may_not_open_the_managers_pages(console: AsyncTestClient[Any],
                                                     settings_env: dict[str, str]) -> None:
    person = await account(settings_env)
    await sign_in(console, person, PASSWORD)
    page = await console.get("/manage/queue", headers={"Accept-Language": "en"})
    assert page.status_code == 403 and "You may not open this page" in page.text


async def test_a_disabled_account_cannot_sign_in(console: AsyncTestClient[Any], settings_env: dict[str, str]) -> None:
    from leadflow_console import db as console_db
    from leadflow_console.tables import metadata
    from leadflow_shared.db import Database

    person = await account(settings_env)
    database = Database(settings_env["LEADFLOW_PG_DSN"], metadata, "/leadflow/console-test", pool_size=1)
    try:
        async with database.uow() as uow:
            assert await console_db.set_disabled(uow.session, person, True)
            await uow.commit()
    finally:
        await database.dispose()
    refused = await sign_in(console, person, PASSWORD)
    assert refused.status_code == 401 and "disabled" in refused.text
