"""Messages as the robots and the mail relay receive them: events through notify's real consumers (the shared
EventProcessor on this test's database), sent by its dispatcher through apprise to local stand-ins for DingTalk,
WeCom, Lark and Feishu (which check signatures as the real ones do) and an SMTP server (aiosmtpd). Refused and
failed sends are retried with backoff and recorded; quiet hours hold messages back; a redelivered event sends
nothing twice; collusion flags reach the managers watching the reps' teams."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from leadflow_notify.bootstrap import Notify
from leadflow_notify.consumers import queue
from leadflow_notify.db import RecipientRepository
from leadflow_notify.domain.model import EVENT_KINDS, Channel, ChannelTarget, Kind, QuietHours, Recipient
from leadflow_shared.contracts import (
    LEADS_ASSIGNED, LEADS_COLLUSION_SUSPECTED, LEADS_DEADLINE_APPROACHING, LEADS_DUPLICATE_DETECTED, LEADS_RECYCLED,
    CollusionSuspected, DeadlineApproaching, DuplicateDetected, LeadAssigned, LeadRecycled,
)
from leadflow_shared.db import Database

from .conftest import CONSOLE, Deliver, Mailbox, Robots, dingtalk_sign, dispatch_until, event, lark_sign, records, unique

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def keep(db: Database, person: str, *targets: tuple[Channel, dict[str, str]], language: str = "zh",
               quiet: QuietHours | None = None, timezone: str = "Asia/Shanghai", teams: tuple[str, ...] = (),
               kinds: frozenset[Kind] = frozenset(EVENT_KINDS)) -> Recipient:
    recipient = Recipient(person, language=language, timezone=timezone, quiet_hours=quiet, kinds=kinds,
                          watch_teams=frozenset(teams), channels=tuple(ChannelTarget(c, f) for c, f in targets))
    async with db.uow() as uow:
        await RecipientRepository(uow.session).put(recipient, "tests")
        await uow.commit()
    return recipient


def assigned(owner: str | None, team: str | None = "east", lead_id: uuid.UUID | None = None) -> LeadAssigned:
    return LeadAssigned(lead_id=lead_id or uuid.uuid4(), owner_id=owner, pool_id=None if owner else "public",
                        rule="round_robin", assigned_at=datetime.now(UTC), team_id=team, kind="route")


def all_settled(rows: list[dict[str, Any]]) -> bool:
    return bool(rows) and all(r["status"] != "pending" for r in rows)


async def test_each_robot_and_the_mail_relay_get_the_real_request_signed_where_it_signs(
        notify: Notify, deliver: Deliver, db: Database, robots: Robots, mailbox: Mailbox) -> None:
    wang = unique("rep-wang")
    ding_token, ding_secret = uuid.uuid4().hex + uuid.uuid4().hex, "SEC" + uuid.uuid4().hex
    wecom_key, lark_hook, lark_secret, feishu_hook = str(uuid.uuid4()), str(uuid.uuid4()), "Lk" + uuid.uuid4().hex, \
        str(uuid.uuid4())
    address = f"{wang}@example.cn"
    robots.secure(ding_token, ding_secret)
    robots.secure(lark_hook, lark_secret)
    await keep(db, wang, (Channel.dingtalk, {"access_token": ding_token, "secret": ding_secret}),
               (Channel.wecom, {"key": wecom_key}), (Channel.lark, {"token": lark_hook, "secret": lark_secret}),
               (Channel.feishu, {"token": feishu_hook}), (Channel.email, {"address": address}))
    lead = uuid.uuid4()
    assert await deliver(event(LEADS_ASSIGNED, assigned(wang, lead_id=lead))) == {"processed": 1}
    rows = await dispatch_until(notify, db, wang, all_settled)

    assert sorted((r["channel"], r["status"], r["attempts"]) for r in rows) == [
        ("dingtalk", "sent", 1), ("email", "sent", 1), ("feishu", "sent", 1), ("lark", "sent", 1), ("wecom", "sent", 1)]
    assert all(r["sent_at"] and r["lead_id"] == lead and r["kind"] == "assigned" for r in rows)
    text = f"新线索分配\n一条线索已分配给您（自动分配），请尽快跟进。\n查看线索：{CONSOLE}/leads/{lead}"

    (ding,) = robots.of(ding_token)
    assert ding.path == "/dingtalk/robot/send" and ding.answered == 200
    assert ding.body == {"msgtype": "text", "text": {"content": text}, "at": {"atMobiles": [], "isAtAll": False}}
    assert abs(time.time() * 1000 - int(ding.query["timestamp"])) < 60_000
    assert ding.query["sign"] == dingtalk_sign(ding.query["timestamp"], ding_secret)  # quoted once, as DingTalk wants

    (wecom,) = robots.of(wecom_key)
    assert wecom.path == "/wecom/cgi-bin/webhook/send"
    assert wecom.body == {"msgtype": "text", "text": {"content": text.replace("\n", "\r\n", 1)}}

    (lark,) = robots.of(lark_hook)
    assert lark.path == f"/lark/open-apis/bot/v2/hook/{lark_hook}"
    assert set(lark.body) == {"msg_type", "content", "timestamp", "sign"}
    assert (lark.body["msg_type"], lark.body["content"]) == ("text", {"text": text})
    assert abs(time.time() - int(lark.body["timestamp"])) < 60
    assert lark.body["sign"] == lark_sign(lark.body["timestamp"], lark_secret)
    assert "新线索分配".encode() in lark.raw  # UTF-8 as is, not \u escapes

    (feishu,) = robots.of(feishu_hook)
    assert feishu.path == f"/feishu/open-apis/bot/v2/hook/{feishu_hook}"
    assert feishu.body == {"msg_type": "text", "content": {"text": text}}  # no secret: not signed

    (mail,) = mailbox.to(address)
    assert (mail["To"], mail["Subject"]) == (address, "新线索分配")
    assert mail["From"].addresses[0].addr_spec == "leadflow@example.cn"
    assert mail.get_content().replace("\r\n", "\n").strip() == text.split("\n", 1)[1]


async def test_a_refused_or_failed_send_is_tried_again_until_it_goes(
        notify: Notify, deliver: Deliver, db: Database, robots: Robots) -> None:
    wang, token, key = unique("rep-wang"), uuid.uuid4().hex, str(uuid.uuid4())
    robots.answer(token, (200, {"errcode": 310000, "errmsg": "keywords not in content"}))  # DingTalk's refusal
    robots.answer(key, (500, "busy"))
    await keep(db, wang, (Channel.dingtalk, {"access_token": token}), (Channel.wecom, {"key": key}))
    await deliver(event(LEADS_ASSIGNED, assigned(wang)))
    rows = await dispatch_until(notify, db, wang, all_settled)
    by_channel = {r["channel"]: r for r in rows}
    assert {c: (r["status"], r["attempts"]) for c, r in by_channel.items()} == {
        "dingtalk": ("sent", 2), "wecom": ("sent", 2)}
    assert by_channel["dingtalk"]["last_error"] == "errcode 310000: keywords not in content"
    assert by_channel["wecom"]["last_error"] == "HTTP 500: busy"
    assert [r.answered for r in robots.of(token)] == [200, 200] and [r.answered for r in robots.of(key)] == [500, 200]


async def test_a_message_that_keeps_failing_is_recorded_failed_after_its_last_try(
        notify: Notify, deliver: Deliver, db: Database, robots: Robots) -> None:
    wang, hook, secret = unique("rep-wang"), str(uuid.uuid4()), "Lk" + uuid.uuid4().hex
    robots.secure(hook, "another-secret")  # the bot was given another secret: every signature fails
    await keep(db, wang, (Channel.lark, {"token": hook, "secret": secret}))
    await deliver(event(LEADS_ASSIGNED, assigned(wang)))
    (row,) = await dispatch_until(notify, db, wang, all_settled)
    assert (row["status"], row["attempts"], row["sent_at"]) == ("failed", 3, None)  # notify_max_attempts
    assert row["last_error"].startswith("code 19021: sign match fail")
    assert row["next_attempt_at"] is None
    tries = [r.at for r in robots.of(hook)]
    assert len(tries) == 3
    assert tries[1] - tries[0] >= 0.05 and tries[2] - tries[1] >= 0.1  # the backoff, doubled


async def test_quiet_hours_hold_a_message_until_they_end(
        notify: Notify, deliver: Deliver, db: Database, robots: Robots) -> None:
    wang, key = unique("rep-wang"), str(uuid.uuid4())
    now = datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    quiet = QuietHours((now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time())
    await keep(db, wang, (Channel.wecom, {"key": key}), quiet=quiet)
    await deliver(event(LEADS_DEADLINE_APPROACHING, DeadlineApproaching(
        lead_id=uuid.uuid4(), owner_id=wang, pool_id="east", deadline_kind="inactivity",
        deadline=datetime.now(UTC) + timedelta(hours=4), reminded_at=datetime.now(UTC))))
    await notify.dispatcher.round()
    (row,) = await records(db, person_id=wang)
    assert (row["status"], row["attempts"], robots.of(key)) == ("pending", 0, [])
    assert row["next_attempt_at"] == now + timedelta(hours=1)  # the window's end, in the person's timezone

    notify.dispatcher.clock = lambda: row["next_attempt_at"] + timedelta(seconds=1)  # the morning after
    (row,) = await dispatch_until(notify, db, wang, all_settled)
    assert (row["status"], row["attempts"]) == ("sent", 1)
    assert "跟进期限" in robots.of(key)[0].body["text"]["content"]


async def test_a_redelivered_event_sends_once_per_channel(
        notify: Notify, deliver: Deliver, db: Database, robots: Robots, mailbox: Mailbox) -> None:
    wang, key, address = unique("rep-wang"), str(uuid.uuid4()), f"{uuid.uuid4().hex[:8]}@example.cn"
    await keep(db, wang, (Channel.wecom, {"key": key}), (Channel.email, {"address": address}))
    twice = event(LEADS_DUPLICATE_DETECTED, DuplicateDetected(
        lead_id=uuid.uuid4(), submission_id=uuid.uuid4(), matched_on="wechat", current_owner_id=wang))
    assert await deliver(twice) == {"processed": 1}
    assert await deliver(twice) == {"duplicate": 1}  # the same event id again: already processed
    async with db.uow() as uow:  # even past the processed-events check, the rows are one per event and channel
        await queue(notify, LEADS_DUPLICATE_DETECTED, Kind.duplicate, [twice], uow)
        await uow.commit()
    rows = await dispatch_until(notify, db, wang, all_settled)
    for _ in range(3):
        await notify.dispatcher.round()
    assert sorted((r["channel"], r["status"]) for r in rows) == [("email", "sent"), ("wecom", "sent")]
    assert len(robots.of(key)) == 1 and len(mailbox.to(address)) == 1
    assert mailbox.to(address)[0]["Subject"] == "撞单提醒"


async def test_collusion_flags_reach_the_managers_watching_either_reps_team(
        notify: Notify, deliver: Deliver, db: Database, robots: Robots) -> None:
    rep_a, rep_b = unique("rep-a"), unique("rep-b")
    east, west, north = unique("east"), unique("west"), unique("north")
    keys = {name: str(uuid.uuid4()) for name in ("east", "west", "north", "rep_a")}
    boss_east, boss_west, boss_north = unique("boss-east"), unique("boss-west"), unique("boss-north")
    await keep(db, boss_east, (Channel.wecom, {"key": keys["east"]}), teams=(east,), language="en")
    await keep(db, boss_west, (Channel.wecom, {"key": keys["west"]}), teams=(west,))
    await keep(db, boss_north, (Channel.wecom, {"key": keys["north"]}), teams=(north,))
    await keep(db, rep_a, (Channel.wecom, {"key": keys["rep_a"]}), teams=(east,))  # one of the pair: not told
    # notify learns the reps' teams from their assignments (an older one told late changes nothing)
    await deliver(event(LEADS_ASSIGNED, assigned(rep_a, east)))
    await deliver(event(LEADS_ASSIGNED, assigned(rep_b, west)))
    stale = assigned(rep_b, north).model_copy(update={"assigned_at": datetime.now(UTC) - timedelta(days=3)})
    await deliver(event(LEADS_ASSIGNED, stale))
    leads = [uuid.uuid4() for _ in range(3)]
    await deliver(event(LEADS_COLLUSION_SUSPECTED, CollusionSuspected(
        kind="pair", released_by=rep_a, claimed_by=rep_b, lead_ids=leads, occurrences=3, window_days=30,
        detected_at=datetime.now(UTC))))
    for person in (boss_east, boss_west, rep_a):
        await dispatch_until(notify, db, person, all_settled)
    (to_east,) = robots.of(keys["east"])
    assert to_east.body["text"]["content"].startswith(f"Suspected collusion: {rep_a} → {rep_b}")
    assert all(f"{CONSOLE}/leads/{lead}" in to_east.body["text"]["content"] for lead in leads)
    (to_west,) = robots.of(keys["west"])
    assert f"疑似串通：{rep_a} → {rep_b}" in to_west.body["text"]["content"]
    assert robots.of(keys["north"]) == []
    assert [r["kind"] for r in await records(db, person_id=rep_a)] == ["assigned"]  # their own lead, no flag
    assert (await records(db, person_id=boss_east))[0]["lead_id"] == leads[0]


async def test_events_that_name_nobody_or_news_unwanted_send_nothing(
        notify: Notify, deliver: Deliver, db: Database) -> None:
    wang = unique("rep-wang")
    await keep(db, wang, (Channel.wecom, {"key": str(uuid.uuid4())}), kinds=frozenset({Kind.recycled}))
    lead = uuid.uuid4()
    await deliver(event(LEADS_RECYCLED, LeadRecycled(lead_id=lead, pool_id="public", previous_owner_id=None,
                                                     reason="manager", recycled_at=datetime.now(UTC))))
    await deliver(event(LEADS_DUPLICATE_DETECTED, DuplicateDetected(
        lead_id=lead, submission_id=uuid.uuid4(), matched_on="mobile", current_owner_id=None)))
    await deliver(event(LEADS_ASSIGNED, assigned(None)))  # to a pool: nobody to tell
    await deliver(event(LEADS_ASSIGNED, assigned(wang)))  # wang wants recycles only
    assert await records(db, person_id=wang) == []
    await deliver(event(LEADS_RECYCLED, LeadRecycled(lead_id=lead, pool_id="public", previous_owner_id=wang,
                                                     reason="first_follow_up_overdue", recycled_at=datetime.now(UTC))))
    (row,) = await records(db, person_id=wang)
    assert (row["kind"], row["title"]) == ("recycled", "线索已被回收") and "首次跟进超时" in row["body"]


async def test_a_message_for_someone_removed_since_is_recorded_failed_not_sent(
        notify: Notify, deliver: Deliver, db: Database, robots: Robots) -> None:
    wang, key = unique("rep-wang"), str(uuid.uuid4())
    await keep(db, wang, (Channel.wecom, {"key": key}))
    await deliver(event(LEADS_ASSIGNED, assigned(wang)))
    async with db.uow() as uow:
        await RecipientRepository(uow.session).delete(wang)
        await uow.commit()
    (row,) = await dispatch_until(notify, db, wang, all_settled)
    assert (row["status"], row["last_error"], robots.of(key)) == ("failed", "the recipient was removed", [])
