"""notify's rules without I/O: quiet hours (crossing midnight, in each person's timezone), backoff, who hears of
each event, what the messages say in zh and en, and recipient documents checked whole."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadflow_notify.domain.delivery import GiveUp, Postpone, Send, Status, after_try, on_claim, plan, plan_trial
from leadflow_notify.domain.messages import render
from leadflow_notify.domain.model import EVENT_KINDS, Channel, ChannelTarget, Kind, QuietHours, Recipient, mask
from leadflow_notify.domain.recipients import InvalidRecipient, document, parse_recipient
from leadflow_notify.domain.routing import addressee, audience, collusion_watchers, lead_of
from leadflow_notify.domain.timing import after_failure, backoff_s, next_allowed
from leadflow_shared.contracts import (
    CollusionSuspected, DeadlineApproaching, DuplicateDetected, LeadAssigned, LeadRecycled,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHT = QuietHours(time(22, 0), time(8, 0))
LUNCH = QuietHours(time(12, 0), time(13, 30))
CONSOLE = "https://crm.example.cn"
LEAD = uuid.UUID("6f1c2a4e-0000-4000-8000-000000000001")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


# ---- quiet hours ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("at", "expected"), [
    (sh(1, 21, 59), sh(1, 21, 59)),  # before the window: now
    (sh(1, 22, 0), sh(2, 8, 0)),  # its first minute: tomorrow morning
    (sh(1, 23, 30), sh(2, 8, 0)),  # before midnight: the next day's end
    (sh(2, 0, 15), sh(2, 8, 0)),  # after midnight: the same day's end
    (sh(2, 7, 59), sh(2, 8, 0)),
    (sh(2, 8, 0), sh(2, 8, 0)),  # the end itself is outside
    (sh(2, 15, 0), sh(2, 15, 0)),
])
def test_a_window_crossing_midnight_ends_on_the_right_morning(at: datetime, expected: datetime) -> None:
    assert next_allowed(at, NIGHT, "Asia/Shanghai") == expected
    assert next_allowed(at, NIGHT, "Asia/Shanghai").tzinfo == UTC


def test_a_window_within_a_day_and_none() -> None:
    assert next_allowed(sh(1, 12, 45), LUNCH, "Asia/Shanghai") == sh(1, 13, 30)
    assert next_allowed(sh(1, 11, 59), LUNCH, "Asia/Shanghai") == sh(1, 11, 59)
    assert next_allowed(sh(1, 23, 0), None, "Asia/Shanghai") == sh(1, 23, 0)


def test_quiet_hours_are_the_persons_local_time() -> None:
    at = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai, 09:00 in New York, 15:00 in Berlin
    assert next_allowed(at, NIGHT, "Asia/Shanghai") == sh(2, 8, 0)
    assert next_allowed(at, NIGHT, "America/New_York") == at
    assert next_allowed(at, QuietHours(time(15, 0), time(16, 0)), "Europe/Berlin") == at + timedelta(hours=1)


def test_a_window_ending_in_a_skipped_hour_ends_after_the_clocks_jump() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # 2026-03-29: 02:00 CET jumps to 03:00 CEST
    at = datetime(2026, 3, 29, 1, 30, tzinfo=berlin)
    until = next_allowed(at, QuietHours(time(1, 0), time(2, 30)), "Europe/Berlin")
    assert until > at.astimezone(UTC)
    assert until.astimezone(berlin).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)


def test_backoff_doubles_to_its_cap_and_stops_at_the_last_try() -> None:
    assert [backoff_s(n, 2, 30) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    assert after_failure(NOW, 1, 3, 2, 30, None, "Asia/Shanghai") == NOW + timedelta(seconds=2)
    assert after_failure(NOW, 3, 3, 2, 30, None, "Asia/Shanghai") is None
    # a retry that would land in the quiet hours waits for their end
    late = sh(1, 21, 59, ).astimezone(UTC)
    assert after_failure(late, 2, 6, 120, 600, NIGHT, "Asia/Shanghai") == sh(2, 8, 0)


# ---- who hears of what ---------------------------------------------------------------------------------

def person(pid: str, *channels: Channel, kinds: frozenset[Kind] = frozenset(EVENT_KINDS), teams: tuple[str, ...] = (),
           language: str = "zh", quiet: QuietHours | None = None, timezone: str = "Asia/Shanghai") -> Recipient:
    targets = tuple(ChannelTarget(c, {"key": f"k-{pid}"} if c == Channel.wecom else {"address": f"{pid}@example.cn"})
                    for c in channels)
    return Recipient(pid, language=language, timezone=timezone, quiet_hours=quiet, kinds=kinds,
                     watch_teams=frozenset(teams), channels=targets)


def deadline(owner: str = "rep-wang") -> DeadlineApproaching:
    return DeadlineApproaching(lead_id=LEAD, owner_id=owner, pool_id="east-pool", deadline_kind="first_follow_up",
                               deadline=datetime(2026, 12, 1, 10, 0, tzinfo=UTC), reminded_at=NOW)


def recycled(previous: str | None = "rep-wang") -> LeadRecycled:
    return LeadRecycled(lead_id=LEAD, pool_id="public", previous_owner_id=previous, reason="inactivity_overdue",
                        recycled_at=NOW)


def duplicate(owner: str | None = "rep-wang") -> DuplicateDetected:
    return DuplicateDetected(lead_id=LEAD, submission_id=uuid.uuid4(), matched_on="mobile", current_owner_id=owner,
                             partner_id="partner-7")


def assigned(owner: str | None = "rep-wang", kind: str | None = "reassign") -> LeadAssigned:
    return LeadAssigned(lead_id=LEAD, owner_id=owner, pool_id=None if owner else "public", rule="round_robin",
                        assigned_at=NOW, team_id="east", kind=kind)


def collusion(leads: int = 2, kind: str = "pair") -> CollusionSuspected:
    return CollusionSuspected(kind=kind, released_by="rep-a", claimed_by="rep-b",
                              lead_ids=[uuid.UUID(int=i + 1) for i in range(leads)], occurrences=4, window_days=30,
                              detected_at=NOW)


def test_each_personal_event_goes_to_the_rep_it_names_and_none_when_it_names_nobody() -> None:
    assert addressee(Kind.deadline, deadline()) == "rep-wang"
    assert addressee(Kind.recycled, recycled()) == "rep-wang"
    assert addressee(Kind.recycled, recycled(None)) is None
    assert addressee(Kind.duplicate, duplicate()) == "rep-wang"
    assert addressee(Kind.duplicate, duplicate(None)) is None
    assert addressee(Kind.assigned, assigned()) == "rep-wang"
    assert addressee(Kind.assigned, assigned(None)) is None  # pooled or queued: nobody to tell


def test_a_person_hears_only_of_the_kinds_they_want() -> None:
    wang = person("rep-wang", Channel.wecom, kinds=frozenset({Kind.deadline}))
    known = {"rep-wang": wang}
    assert audience(Kind.deadline, deadline(), known, {}) == [wang]
    assert audience(Kind.duplicate, duplicate(), known, {}) == []
    assert audience(Kind.assigned, assigned(), {}, {}) == []  # not a recipient: nothing


def test_collusion_flags_reach_whoever_watches_either_reps_team_but_not_the_reps() -> None:
    team_of = {"rep-a": "east", "rep-b": "west"}
    east, west, north = person("boss-east", teams=("east",)), person("boss-west", teams=("west",)), \
        person("boss-north", teams=("north",))
    everyone, deaf = person("admin", teams=("*",)), person("boss-deaf", teams=("east",), kinds=frozenset({Kind.deadline}))
    rep_a = person("rep-a", teams=("*",))  # one of the pair, whatever they watch
    found = collusion_watchers(collusion(), team_of, [east, west, north, everyone, deaf, rep_a])
    assert [r.person_id for r in found] == ["boss-east", "boss-west", "admin"]
    # teams unknown: only those watching every team
    assert [r.person_id for r in collusion_watchers(collusion(), {}, [east, everyone])] == ["admin"]
    assert lead_of(Kind.collusion, collusion()) == uuid.UUID(int=1)


# ---- what they say -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "data", "zh_words", "en_words"), [
    (Kind.deadline, deadline(), ["线索跟进即将到期", "首次跟进", "2026-12-01 18:00"],
     ["deadline approaching", "first follow-up", "2026-12-01 18:00"]),
    (Kind.recycled, recycled(), ["线索已被回收", "长期未跟进", "public"], ["Lead recycled", "without a follow-up", "public"]),
    (Kind.duplicate, duplicate(), ["撞单提醒", "手机号", "partner-7"], ["Duplicate lead", "mobile number", "partner-7"]),
    (Kind.assigned, assigned(), ["新线索分配", "二次分配"], ["New lead assigned", "reassigned"]),
])
def test_messages_are_short_in_the_persons_language_with_a_link_to_the_lead(
        kind: Kind, data: object, zh_words: list[str], en_words: list[str]) -> None:
    link = f"{CONSOLE}/leads/{LEAD}"
    zh = render(kind, data, "zh", "Asia/Shanghai", CONSOLE)
    en = render(kind, data, "en", "Asia/Shanghai", CONSOLE + "/")
    assert link in zh.body and link in en.body
    for word in zh_words:
        assert word in zh.title + zh.body
    for word in en_words:
        assert word in en.title + en.body
    assert len(zh.body) < 200 and len(en.body) < 300


def test_times_are_told_in_the_persons_timezone() -> None:
    assert "2026-12-01 05:00" in render(Kind.deadline, deadline(), "en", "America/New_York", CONSOLE).body


def test_a_collusion_flag_links_its_first_leads_and_counts_the_rest() -> None:
    zh = render(Kind.collusion, collusion(leads=7), "zh", "Asia/Shanghai", CONSOLE)
    assert zh.title == "疑似串通：rep-a → rep-b"
    assert "rep-a 放弃的线索在 30 天内 4 次被 rep-b 领取" in zh.body
    assert zh.body.count(f"{CONSOLE}/leads/") == 5 and "另有 2 条" in zh.body
    en = render(Kind.collusion, collusion(kind="ping_pong"), "en", "Asia/Shanghai", CONSOLE)
    assert "back and forth between rep-a and rep-b" in en.body and "more" not in en.body


# ---- planning and settling -----------------------------------------------------------------------------

def test_an_event_plans_one_message_per_channel_due_at_the_end_of_quiet_hours() -> None:
    night = sh(1, 23, 0).astimezone(UTC)
    wang = person("rep-wang", Channel.wecom, Channel.email, quiet=NIGHT, language="en")
    planned = plan(uuid.uuid4(), "leads.assigned.v1", Kind.assigned, assigned(), {"rep-wang": wang}, {}, CONSOLE, night)
    assert [(p.person_id, p.channel, p.due) for p in planned] == [
        ("rep-wang", "wecom", sh(2, 8, 0)), ("rep-wang", "email", sh(2, 8, 0))]
    assert planned[0].title == "New lead assigned" and planned[0].lead_id == LEAD
    assert plan(uuid.uuid4(), "t", Kind.assigned, assigned(), {"rep-wang": person("rep-wang")}, {}, CONSOLE, night) == []
    trial = plan_trial(uuid.uuid4(), wang, night)
    assert [(p.kind, p.due) for p in trial] == [(Kind.test, night), (Kind.test, night)]  # a test goes at once


def test_a_claimed_message_goes_waits_or_is_dropped() -> None:
    wang = person("rep-wang", Channel.wecom, quiet=NIGHT)
    night = sh(1, 23, 0).astimezone(UTC)
    assert on_claim(None, "wecom", "assigned", NOW) == GiveUp("the recipient was removed")
    assert isinstance(on_claim(wang, "email", "assigned", NOW), GiveUp)
    assert on_claim(wang, "wecom", "assigned", night) == Postpone(sh(2, 8, 0))
    assert on_claim(wang, "wecom", "test", night) == Send(wang.channels[0])  # asked for: goes at once
    assert on_claim(wang, "wecom", "assigned", sh(1, 9, 0).astimezone(UTC)) == Send(wang.channels[0])
    settings = {"max_attempts": 3, "backoff_s": 2.0, "backoff_max_s": 60.0}
    assert after_try(True, 1, NOW, wang, "assigned", **settings).status == Status.sent
    again = after_try(False, 2, NOW, wang, "assigned", **settings)
    assert (again.status, again.next_attempt_at) == (Status.pending, NOW + timedelta(seconds=4))
    assert after_try(False, 3, NOW, wang, "assigned", **settings).status == Status.failed
    assert after_try(False, 1, night, wang, "assigned", **settings).next_attempt_at == sh(2, 8, 0)
    assert after_try(False, 1, night, wang, "test", **settings).next_attempt_at == night + timedelta(seconds=2)


# ---- recipient documents -------------------------------------------------------------------------------

FULL = {
    "display_name": "王伟", "language": "en", "timezone": "Europe/Berlin", "quiet_hours": {"start": "22:00", "end": "07:30"},
    "kinds": ["deadline", "assigned"], "watch_teams": ["east"],
    "channels": [{"channel": "dingtalk", "access_token": "a" * 64, "secret": "SEC" + "b" * 61},
                 {"channel": "wecom", "key": "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"},
                 {"channel": "lark", "token": "2a4f8c1e-0d3b-4e5f-8a9b-1c2d3e4f5a6b", "secret": "lArKsEcReT"},
                 {"channel": "email", "address": "wang.wei@example.cn"}],
}


def test_a_document_becomes_a_recipient_and_shows_with_its_secrets_masked() -> None:
    wang = parse_recipient("rep-wang", FULL)
    assert (wang.language, wang.timezone, wang.quiet_hours) == ("en", "Europe/Berlin", QuietHours(time(22), time(7, 30)))
    assert wang.kinds == {Kind.deadline, Kind.assigned} and wang.watch_teams == {"east"}
    shown = document(wang)
    assert shown["channels"][0] == {"channel": "dingtalk", "access_token": mask("a" * 64), "secret": mask("SEC" + "b" * 61)}
    assert shown["channels"][0]["access_token"] == "****aaaa"
    assert shown["channels"][3] == {"channel": "email", "address": "wang.wei@example.cn"}
    assert "bbbb" not in str(shown["channels"][0]["access_token"]) and "lArKsEcReT" not in str(shown)
    # sent back as shown, the masked secrets keep their values
    again = parse_recipient("rep-wang", shown, stored=wang)
    assert again.channels == wang.channels
    # defaults: Chinese, Shanghai, every kind, no quiet hours, no channels
    bare = parse_recipient("rep-li", {})
    assert (bare.language, bare.timezone, bare.kinds, bare.quiet_hours, bare.channels) == (
        "zh", "Asia/Shanghai", frozenset(EVENT_KINDS), None, ())


def test_a_document_is_refused_whole_with_every_problem_in_both_languages() -> None:
    bad = {"language": "fr", "timezone": "Mars/Olympus", "quiet_hours": {"start": "22:00", "end": "22:00"},
           "kinds": ["deadline", "gossip"], "colour": "blue",
           "channels": [{"channel": "pager"}, {"channel": "dingtalk"}, {"channel": "email", "address": "not-mail"},
                        {"channel": "wecom", "key": "k-1"}, {"channel": "wecom", "key": "k-2"},
                        {"channel": "lark", "token": "t-1", "secret": "****zzzz"}]}
    with pytest.raises(InvalidRecipient) as refused:
        parse_recipient("rep-wang", bad, available=[c for c in Channel])
    paths = {i.path: i for i in refused.value.issues}
    assert set(paths) == {"colour", "language", "timezone", "quiet_hours", "kinds[1]", "channels[0].channel",
                          "channels[1].access_token", "channels[2].address", "channels[4].channel",
                          "channels[5].secret"}
    assert paths["language"].zh == "须为 zh 或 en"
    assert "未知时区" in paths["timezone"].zh and "not a known timezone" in paths["timezone"].en
    assert paths["quiet_hours"].zh == "开始与结束时间不能相同"
    assert paths["channels[1].access_token"].zh == "为必填项"
    assert "重复" in paths["channels[4].channel"].zh
    assert "打码" in paths["channels[5].secret"].zh
    with pytest.raises(InvalidRecipient) as no_mail:
        parse_recipient("rep-wang", {"channels": [{"channel": "email", "address": "a@b.cn"}]},
                        available=[Channel.wecom])
    assert no_mail.value.issues[0].zh == "邮件渠道不可用：未配置 SMTP 服务器"
    with pytest.raises(InvalidRecipient):
        parse_recipient("rep-wang", ["not", "an", "object"])
    with pytest.raises(InvalidRecipient):
        parse_recipient("rep-wang", {"person_id": "rep-li"})
