"""Recipients over HTTP: a person keeps their own channels (secrets masked in every answer, kept when sent back
masked), a manager or an admin anyone's, nobody else; watching a team takes managing it; a bad document is refused
whole with every problem, in Chinese for a Chinese caller; and the record of messages, a rep's own only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from leadflow_notify.db import NotificationRepository, RecipientRepository
from leadflow_notify.domain.delivery import Planned
from leadflow_notify.domain.model import Kind
from leadflow_notify.settings import NotifySettings
from leadflow_notify.tables import notifications
from leadflow_shared.db import Database

from .conftest import Robots, Token, records, staff, unique

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def settings_of(person: str, token: str, secret: str, email: str) -> dict[str, Any]:
    return {"display_name": "王伟", "quiet_hours": {"start": "22:00", "end": "08:00"},
            "channels": [{"channel": "dingtalk", "access_token": token, "secret": secret},
                         {"channel": "email", "address": email}]}


async def test_a_person_keeps_their_own_channels_and_sees_their_secrets_masked(
        api: AsyncTestClient[Any], staff_token: Token, db: Database) -> None:
    wang = unique("rep-wang")
    token, secret = uuid.uuid4().hex + uuid.uuid4().hex, "SEC" + uuid.uuid4().hex
    me = staff(staff_token, wang)
    created = await api.put(f"/v1/recipients/{wang}", json=settings_of(wang, token, secret, "wang@example.cn"), headers=me)
    assert created.status_code == 201, created.text
    shown = (await api.get(f"/v1/recipients/{wang}", headers=me)).json()
    assert shown["channels"] == [{"channel": "dingtalk", "access_token": "****" + token[-4:], "secret": "****" + secret[-4:]},
                                 {"channel": "email", "address": "wang@example.cn"}]
    assert token not in created.text and secret not in created.text
    assert (shown["language"], shown["timezone"], shown["quiet_hours"], shown["updated_by"]) == (
        "zh", "Asia/Shanghai", {"start": "22:00", "end": "08:00"}, wang)
    assert shown["kinds"] == ["assigned", "collusion", "deadline", "duplicate", "recycled"]

    # what the answer showed, sent back with a change: the secrets stay as they were
    shown["language"] = "en"
    replaced = await api.put(f"/v1/recipients/{wang}", json=shown, headers=me)
    assert replaced.status_code == 200, replaced.text
    async with db.uow() as uow:
        stored = await RecipientRepository(uow.session).get(wang)
    assert stored is not None and stored.language == "en"
    assert dict(stored.channels[0].fields) == {"access_token": token, "secret": secret}

    assert (await api.delete(f"/v1/recipients/{wang}", headers=me)).status_code == 204
    gone = await api.get(f"/v1/recipients/{wang}", headers={**me, **ZH})
    assert gone.status_code == 404 and gone.json()["code"] == "unknown_recipient" and "尚未设置通知" in gone.json()["detail"]
    assert (await api.delete(f"/v1/recipients/{wang}", headers=me)).status_code == 404


async def test_only_the_person_a_manager_or_an_admin_may_read_or_change_settings(
        api: AsyncTestClient[Any], staff_token: Token) -> None:
    wang, li = unique("rep-wang"), unique("rep-li")
    body = {"channels": [{"channel": "wecom", "key": unique("k")}]}
    assert (await api.put(f"/v1/recipients/{wang}", json=body)).status_code == 401
    assert (await api.put(f"/v1/recipients/{wang}", json=body, headers=staff(staff_token, wang))).status_code == 201
    other = staff(staff_token, li, **ZH)
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/test")):
        reply = await api.request(method, f"/v1/recipients/{wang}{path}", headers=other, json=body)
        assert reply.status_code == 403 and reply.json()["code"] == "not_yours", (method, reply.text)
        assert "只有本人、主管或管理员" in reply.json()["detail"]
    boss = staff(staff_token, unique("boss"), "manager")
    assert (await api.get(f"/v1/recipients/{wang}", headers=boss)).status_code == 200
    assert (await api.put(f"/v1/recipients/{wang}", json={"language": "en", **body}, headers=boss)).status_code == 200
    listed = await api.get("/v1/recipients", params={"limit": 500}, headers=staff(staff_token, "root", "admin"))
    assert wang in [r["person_id"] for r in listed.json()] and listed.json()[0]["channels"][0]["key"].startswith("****")
    assert (await api.get("/v1/recipients", headers=staff(staff_token, li))).status_code == 403
    assert (await api.put(f"/v1/recipients/{wang}", json=body, headers=staff(staff_token, "cfo", "finance"))).status_code == 403


async def test_a_bad_document_is_refused_whole_with_every_problem_in_the_callers_language(
        api: AsyncTestClient[Any], staff_token: Token, db: Database) -> None:
    wang = unique("rep-wang")
    bad = {"language": "fr", "timezone": "Asia/Nowhere", "quiet_hours": {"start": "25:00", "end": "08:00"},
           "kinds": ["gossip"], "channels": [{"channel": "dingtalk", "access_token": "not a token!"},
                                            {"channel": "fax", "number": "1"}]}
    zh = await api.put(f"/v1/recipients/{wang}", json=bad, headers=staff(staff_token, wang, **ZH))
    assert zh.status_code == 422 and zh.json()["code"] == "invalid_recipient"
    assert zh.json()["detail"] == "收件人设置有误，未做任何变更"
    errors = {e["path"]: e["message"] for e in zh.json()["errors"]}
    assert errors == {
        "language": "须为 zh 或 en",
        "timezone": "未知时区：'Asia/Nowhere'（如 Asia/Shanghai）",
        "quiet_hours.start": "须为 HH:MM 格式的时间，如 22:00",
        "kinds[0]": "未知的消息类型 'gossip'（可选：deadline、recycled、duplicate、assigned、collusion）",
        "channels[0].access_token": "格式不正确：应为字母和数字",
        "channels[1].channel": "须为以下之一：dingtalk、wecom、lark、feishu、email",
    }
    en = await api.put(f"/v1/recipients/{wang}", json=bad, headers=staff(staff_token, wang))
    assert {e["path"]: e["message"] for e in en.json()["errors"]}["language"] == "must be zh or en"
    not_yaml = await api.put(f"/v1/recipients/{wang}", content=b"channels: [", headers=staff(staff_token, wang, **ZH))
    assert not_yaml.status_code == 422 and "未做任何变更" in not_yaml.json()["detail"]
    async with db.uow() as uow:
        assert await RecipientRepository(uow.session).get(wang) is None  # nothing was stored


async def test_email_is_refused_where_no_smtp_relay_is_configured(
        notify_settings: NotifySettings, staff_token: Token) -> None:
    from leadflow_notify.app import service

    app = service.create_app(notify_settings.model_copy(update={"notify_smtp_host": None}))
    async with AsyncTestClient(app=app) as client:
        wang = unique("rep-wang")
        reply = await client.put(f"/v1/recipients/{wang}", json={"channels": [{"channel": "email", "address": "w@x.cn"}]},
                                 headers=staff(staff_token, wang, **ZH))
    assert reply.status_code == 422
    assert reply.json()["errors"] == [{"path": "channels[0].channel", "message": "邮件渠道不可用：未配置 SMTP 服务器"}]


async def test_watching_a_teams_collusion_flags_takes_managing_it(api: AsyncTestClient[Any], staff_token: Token) -> None:
    rep, boss, admin = unique("rep"), unique("boss"), unique("admin")
    east, west = unique("east"), unique("west")
    as_rep = staff(staff_token, rep, teams=(east,), **ZH)
    as_boss = staff(staff_token, boss, "manager", teams=(east,))
    as_admin = staff(staff_token, admin, "admin", teams=())
    refused = await api.put(f"/v1/recipients/{rep}", json={"watch_teams": [east]}, headers=as_rep)
    assert refused.status_code == 403 and refused.json()["code"] == "cannot_watch" and east in refused.json()["detail"]
    assert (await api.put(f"/v1/recipients/{boss}", json={"watch_teams": [east]}, headers=as_boss)).status_code == 201
    assert (await api.put(f"/v1/recipients/{boss}", json={"watch_teams": [east, west]}, headers=as_boss)).status_code == 403
    assert (await api.put(f"/v1/recipients/{boss}", json={"watch_teams": ["*"]}, headers=as_boss)).status_code == 403
    assert (await api.put(f"/v1/recipients/{admin}", json={"watch_teams": ["*"]}, headers=as_admin)).status_code == 201
    # what an admin set for a rep, the rep may keep while changing the rest
    assert (await api.put(f"/v1/recipients/{rep}", json={"watch_teams": [west]}, headers=as_admin)).status_code == 201
    kept = await api.put(f"/v1/recipients/{rep}", json={"watch_teams": [west], "language": "en"}, headers=as_rep)
    assert kept.status_code == 200 and kept.json()["watch_teams"] == [west]


async def _queue(db: Database, person: str, *, kind: Kind = Kind.assigned, channel: str = "wecom",
                 lead_id: uuid.UUID | None = None, count: int = 1) -> list[int]:
    now = datetime.now(UTC)
    planned = [Planned(uuid.uuid4(), "leads.assigned.v1", kind, person, channel, lead_id or uuid.uuid4(), "新线索分配",
                       "一条线索已分配给您", now + timedelta(days=1)) for _ in range(count)]
    async with db.uow() as uow:
        queued = await NotificationRepository(uow.session).queue(planned)
        await uow.commit()
    return [message_id for message_id, _ in queued]


async def test_the_record_of_messages_is_a_reps_own_newest_first_a_page_at_a_time(
        api: AsyncTestClient[Any], staff_token: Token, db: Database) -> None:
    wang, li, lead = unique("rep-wang"), unique("rep-li"), uuid.uuid4()
    mine = await _queue(db, wang, count=5)
    about_lead = await _queue(db, wang, kind=Kind.deadline, channel="email", lead_id=lead)
    theirs = await _queue(db, li)
    async with db.uow() as uow:
        await uow.session.execute(notifications.update().where(notifications.c.id == mine[0])
                                  .values(status="failed", attempts=3, last_error="HTTP 500: busy"))
        await uow.commit()
    me = staff(staff_token, wang)

    first = (await api.get("/v1/notifications", params={"limit": 4}, headers=me)).json()
    assert [n["id"] for n in first["notifications"]] == [*about_lead, *reversed(mine[2:])]
    rest = (await api.get("/v1/notifications", params={"limit": 4, "cursor": first["next_cursor"]}, headers=me)).json()
    assert [n["id"] for n in rest["notifications"]] == [mine[1], mine[0]] and rest["next_cursor"] is None
    record = rest["notifications"][1]
    assert {k: record[k] for k in ("person_id", "channel", "status", "attempts", "last_error", "kind", "title")} == {
        "person_id": wang, "channel": "wecom", "status": "failed", "attempts": 3, "last_error": "HTTP 500: busy",
        "kind": "assigned", "title": "新线索分配"}
    assert {"event_id", "topic", "created_at", "sent_at", "next_attempt_at", "lead_id", "body"} <= set(record)

    failed = (await api.get("/v1/notifications", params={"status": "failed"}, headers=me)).json()["notifications"]
    assert [n["id"] for n in failed] == [mine[0]]
    by_lead = await api.get("/v1/notifications", params={"lead_id": str(lead), "kind": "deadline"}, headers=me)
    assert [n["id"] for n in by_lead.json()["notifications"]] == about_lead
    later = await api.get("/v1/notifications", params={"since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
                          headers=me)
    assert later.json()["notifications"] == []

    nosy = await api.get("/v1/notifications", params={"person": li}, headers={**me, **ZH})
    assert nosy.status_code == 403 and nosy.json()["detail"] == "您只能查看自己的消息"
    boss = staff(staff_token, unique("boss"), "manager")
    seen = (await api.get("/v1/notifications", params={"person": li}, headers=boss)).json()["notifications"]
    assert [n["id"] for n in seen] == theirs
    odd = await api.get("/v1/notifications", params={"status": "lost"}, headers={**me, **ZH})
    assert odd.status_code == 400 and "status 须为以下之一" in odd.json()["detail"]
    bad = await api.get("/v1/notifications", params={"cursor": "abc"}, headers={**me, **ZH})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_cursor"


async def test_a_test_message_goes_out_on_each_channel_at_once(
        api: AsyncTestClient[Any], staff_token: Token, robots: Robots, db: Database) -> None:
    wang, key = unique("rep-wang"), unique("wecom-key")
    me = staff(staff_token, wang)
    body = {"language": "en", "quiet_hours": {"start": "00:00", "end": "23:59"},  # quiet nearly all day: a test goes
            "channels": [{"channel": "wecom", "key": key}]}
    assert (await api.put(f"/v1/recipients/{wang}", json=body, headers=me)).status_code == 201
    queued = await api.post(f"/v1/recipients/{wang}/test", headers=me)
    assert queued.status_code == 202, queued.text
    (got,) = await robots.wait_for(key)
    assert got.body == {"msgtype": "text", "text": {"content": "leadflow test message\r\nThis is a test message: if "
                                                               "you read it, this channel works."}}
    rows = await records(db, person_id=wang)
    assert [r["id"] for r in rows] == queued.json()["queued"]
    empty = unique("rep-empty")
    await api.put(f"/v1/recipients/{empty}", json={}, headers=staff(staff_token, empty))
    assert (await api.post(f"/v1/recipients/{empty}/test", headers=staff(staff_token, empty))).status_code == 409
