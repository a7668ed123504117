"""console's rules, without I/O: the work list's order, forms as API calls, sign-in pauses, the words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from leadflow_console.domain import forms, worklist
from leadflow_console.domain.accounts import AccountError, Attempts, check_password, check_person_id
from leadflow_console.domain.i18n import MESSAGES, choose_language, translate
from leadflow_console.pages import local_path

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_overdue_first_then_due_today_then_later_then_none() -> None:
    leads = [
        {"lead_id": "later", "next_deadline": (NOW + timedelta(days=2)).isoformat()},
        {"lead_id": "none", "next_deadline": None},
        {"lead_id": "today", "next_deadline": (NOW + timedelta(hours=5)).isoformat()},
        {"lead_id": "overdue-recent", "next_deadline": (NOW - timedelta(hours=1)).isoformat()},
        {"lead_id": "overdue-long", "next_deadline": (NOW - timedelta(days=3)).isoformat()},
    ]
    rows = worklist.work_list(leads, NOW, SHANGHAI)
    assert [r["lead_id"] for r in rows] == ["overdue-long", "overdue-recent", "today", "later", "none"]
    assert worklist.counts(rows) == {"overdue": 2, "due_today": 1, "later": 1, "none": 1}


def test_due_today_is_counted_where_the_rep_works() -> None:
    # 23:30 Shanghai is today there though it is 15:30 UTC; 00:30 Shanghai tomorrow is not
    assert worklist.urgency(datetime(2026, 12, 7, 15, 30, tzinfo=UTC), NOW, SHANGHAI) == worklist.Urgency.due_today
    assert worklist.urgency(datetime(2026, 12, 7, 16, 30, tzinfo=UTC), NOW, SHANGHAI) == worklist.Urgency.later


def test_a_visit_needs_its_position_and_a_call_does_not() -> None:
    visit = forms.follow_up({"type": ["visit"], "note": ["到店拜访"]})
    assert visit.errors == {"latitude": "error.required", "longitude": "error.required"}
    call = forms.follow_up({"type": ["call"], "note": ["聊了预算"], "next_follow_up_at": ["2026-12-08T10:00"]})
    assert call.ok and call.body == {"type": "call", "note": "聊了预算", "next_follow_up_at": "2026-12-08T10:00:00"}
    placed = forms.follow_up({"type": ["visit"], "note": ["x"], "latitude": ["31.2304"], "longitude": ["121.4737"]})
    assert placed.body["location"] == {"latitude": 31.2304, "longitude": 121.4737}


def test_follow_up_refuses_unknown_kinds_and_bad_numbers() -> None:
    parsed = forms.follow_up({"type": ["fax"], "note": [""], "next_follow_up_at": ["tomorrow"]})
    assert parsed.errors == {"type": "error.choose", "note": "error.required", "next_follow_up_at": "error.datetime"}
    far = forms.follow_up({"type": ["visit"], "note": ["x"], "latitude": ["91"], "longitude": ["abc"]})
    assert far.errors == {"latitude": "error.range", "longitude": "error.number"}


def test_convert_takes_the_amount_with_separators_and_defaults_the_rest() -> None:
    parsed = forms.convert({"opportunity_name": ["年度订阅"], "amount": ["120,000"], "expected_close": ["2027-01-31"]})
    assert parsed.ok
    assert parsed.body == {"opportunity": {"name": "年度订阅", "amount": 120000.0, "currency": "CNY",
                                           "expected_close": "2027-01-31"}, "customer": {}, "contact": {}}
    bad = forms.convert({"opportunity_name": [""], "amount": ["-1"], "currency": ["rmb"]})
    assert bad.errors == {"opportunity_name": "error.required", "amount": "error.range", "currency": "error.currency"}


def test_a_stage_move_to_lost_needs_a_reason_and_won_a_contract() -> None:
    stages, reasons = ["proposal", "negotiation"], ["price", "competitor"]
    assert forms.move({"to": ["lost"]}, stages, reasons).errors == {"lost_reason": "error.choose"}
    assert forms.move({"to": ["won"]}, stages, reasons).errors == {"contract_ref": "error.required"}
    assert forms.move({"to": ["negotiation"]}, stages, reasons).body == {"to": "negotiation"}
    assert forms.move({"to": ["nowhere"]}, stages, reasons).errors == {"to": "error.choose"}


def test_a_transfer_names_a_rep_or_a_pool_not_both() -> None:
    lead = "5f0c7c9e-3a7b-4a53-9a44-0b7f7f3c2a10"
    assert forms.transfer({"lead_id": [lead], "to_owner_id": ["rep-a"], "to_pool_id": ["east"]}).errors == {
        "to_owner_id": "error.rep_or_pool"}
    assert forms.transfer({"lead_id": ["nope"], "to_pool_id": ["east"]}).errors == {"lead_id": "error.lead_id"}
    assert forms.transfer({"lead_id": [lead], "to_pool_id": ["east"]}).body == {"lead_id": lead, "to_pool_id": "east"}


def test_release_takes_only_a_reason_of_the_pools_list() -> None:
    assert forms.release({"reason": ["no_budget"]}, ["no_budget"]).body == {"reason": "no_budget"}
    assert forms.release({"reason": ["made_up"]}, ["no_budget"]).errors == {"reason": "error.choose"}


def test_distribute_and_funnel_filters() -> None:
    parsed = forms.distribute({"rep_ids": ["a", "b"], "status": ["pooled"], "limit": ["30"]})
    assert parsed.body == {"rep_ids": ["a", "b"], "filter": {"status": "pooled"}, "limit": 30}
    assert forms.distribute({"status": ["queued"]}).errors == {"rep_ids": "error.required"}
    funnel = forms.funnel_query({"from": ["2026-12-31"], "to": ["2026-12-01"], "group": ["evil"]})
    assert funnel.errors == {"from": "error.period"} and funnel.body["group"] == "none"


def test_sign_in_pauses_after_the_limit_and_starts_counting_again() -> None:
    attempts = Attempts()
    for _ in range(4):
        attempts = attempts.after_failure(NOW, 5, timedelta(minutes=15))
    assert attempts == Attempts(4, None) and not attempts.locked(NOW)
    locked = attempts.after_failure(NOW, 5, timedelta(minutes=15))
    assert locked.locked(NOW) and not locked.locked(NOW + timedelta(minutes=16)) and locked.failed == 0


def test_account_ids_and_passwords() -> None:
    assert check_person_id(" rep-wang ") == "rep-wang"
    for bad in ("", "rep wang", "../x", "x" * 101):
        try:
            check_person_id(bad)
        except AccountError:
            continue
        raise AssertionError(f"{bad!r} accepted")
    for bad in ("short", " padded-password "):
        try:
            check_password(bad)
        except AccountError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_language_choice_and_every_message_in_both() -> None:
    assert choose_language(None, "en-US,en;q=0.9,zh;q=0.5") == "en"
    assert choose_language(None, "zh-TW,en;q=0.5") == "zh"
    assert choose_language("en", "zh-CN") == "en"
    assert choose_language(None, None) == "en"
    assert translate("sign_in.locked", "zh", minutes=3) == "密码错误次数过多，请 3 分钟后再试。"
    assert all(en.strip() and zh.strip() for en, zh in MESSAGES.values())


def test_only_this_sites_paths_to_go_back_to() -> None:
    assert local_path("/leads/1?x=2") == "/leads/1?x=2"
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", None, ""):
        assert local_path(evil, "/my/leads") == "/my/leads"


def test_my_notification_settings_as_notifys_document_and_back() -> None:
    parsed = forms.recipient({"language": ["en"], "quiet_start": ["22:00"], "quiet_end": ["08:00"],
                              "kinds": ["deadline", "assigned", "made-up"], "dingtalk_access_token": ["abc123"],
                              "dingtalk_secret": ["SEC99"], "email_address": ["wang@example.cn"], "wecom_key": [""]})
    assert parsed.ok and parsed.body == {
        "language": "en", "kinds": ["deadline", "assigned"], "quiet_hours": {"start": "22:00", "end": "08:00"},
        "channels": [{"channel": "dingtalk", "access_token": "abc123", "secret": "SEC99"},
                     {"channel": "email", "address": "wang@example.cn"}]}
    assert forms.recipient({"lark_secret": ["s"], "quiet_start": ["22:00"]}).errors == {
        "lark_token": "error.required", "quiet_end": "error.required"}
    values = forms.recipient_values({**parsed.body, "channels": [{"channel": "dingtalk", "access_token": "abc123",
                                                                   "secret": "****EC99"}]})
    assert values["dingtalk_secret"] == "****EC99" and values["quiet_start"] == "22:00" and values["language"] == "en"
    assert forms.recipient_values(None) == {"kinds": list(forms.NEWS_KINDS)}
