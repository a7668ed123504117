"""What a message says, in the recipient's language (zh or en): short, with a link to the lead in the console."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from leadflow_notify.domain.model import Kind, Message

MAX_LINKED_LEADS = 5  # a collusion flag lists this many leads, then says how many more

DEADLINES = {"first_follow_up": ("首次跟进", "first follow-up"), "inactivity": ("跟进", "follow-up"),
             "conversion": ("转化", "conversion")}
RECYCLE_REASONS = {
    "first_follow_up_overdue": ("首次跟进超时", "the first follow-up was overdue"),
    "follow_up_overdue": ("跟进超时", "a follow-up was overdue"),
    "inactivity_overdue": ("长期未跟进", "it went too long without a follow-up"),
    "conversion_overdue": ("未按期转化", "it was not converted in time"),
    "manager": ("主管收回", "a manager took it back"),
}
MATCHES = {"mobile": ("手机号", "mobile number"), "wechat": ("微信号", "WeChat id"), "email": ("邮箱", "e-mail")}
ASSIGNMENTS = {"route": ("自动分配", "routed by rule"), "reassign": ("二次分配", "reassigned"),
               "manual": ("主管指派", "picked by a manager"), "territory": ("区域移交", "territory handover"),
               "distribute": ("批量分配", "batch distribution")}


def lead_link(console_url: str, lead_id: Any) -> str:
    return f"{console_url.rstrip('/')}/leads/{lead_id}"


def _pick(table: dict[str, tuple[str, str]], key: str | None, zh: bool) -> str:
    found = table.get(key or "")
    if found is None:
        return key or ""
    return found[0] if zh else found[1]


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def render(kind: Kind, data: Any, language: str, timezone: str, console_url: str) -> Message:
    """The message of an event for a recipient who reads `language` and lives in `timezone`."""
    zh = language == "zh"
    if kind == Kind.deadline:
        what, when = _pick(DEADLINES, data.deadline_kind, zh), _local(data.deadline, timezone)
        link = lead_link(console_url, data.lead_id)
        if zh:
            return Message("线索跟进即将到期", f"您负责的线索{what}期限将于 {when} 到期，请及时跟进。\n查看线索：{link}")
        return Message("Lead deadline approaching",
                       f"The {what} deadline of your lead is {when} ({timezone}). Please follow up in time.\n"
                       f"Open the lead: {link}")
    if kind == Kind.recycled:
        why, link = _pick(RECYCLE_REASONS, data.reason, zh), lead_link(console_url, data.lead_id)
        if zh:
            return Message("线索已被回收", f"您的线索因{why}已回收至公海 {data.pool_id}。\n查看线索：{link}")
        return Message("Lead recycled",
                       f"Your lead went back to pool {data.pool_id}: {why}.\nOpen the lead: {link}")
    if kind == Kind.duplicate:
        on, link = _pick(MATCHES, data.matched_on, zh), lead_link(console_url, data.lead_id)
        partner = data.partner_id
        if zh:
            source = f"（来自渠道 {partner}）" if partner else ""
            return Message("撞单提醒", f"有新的提交{source}与您的线索撞单（{on}相同），请及时跟进。\n查看线索：{link}")
        source = f" from partner {partner}" if partner else ""
        return Message("Duplicate lead alert", f"A new submission{source} matches your lead (same {on}). "
                                               f"Please follow up.\nOpen the lead: {link}")
    if kind == Kind.assigned:
        how, link = _pick(ASSIGNMENTS, data.kind or "route", zh), lead_link(console_url, data.lead_id)
        if zh:
            return Message("新线索分配", f"一条线索已分配给您（{how}），请尽快跟进。\n查看线索：{link}")
        return Message("New lead assigned", f"A lead was assigned to you ({how}). Please follow up soon.\n"
                                            f"Open the lead: {link}")
    if kind == Kind.collusion:
        return _collusion(data, zh, console_url)
    if kind == Kind.test:
        return trial_message(language)
    raise ValueError(f"no message for {kind}")


def _collusion(data: Any, zh: bool, console_url: str) -> Message:
    a, b, n, days = data.released_by, data.claimed_by, data.occurrences, data.window_days
    links = "\n".join(lead_link(console_url, lead_id) for lead_id in data.lead_ids[:MAX_LINKED_LEADS])
    more = len(data.lead_ids) - MAX_LINKED_LEADS
    if zh:
        title = f"疑似串通：{a} ↔ {b}" if data.kind == "ping_pong" else f"疑似串通：{a} → {b}"
        what = (f"线索在 {a} 与 {b} 之间来回流转，{days} 天内 {n} 次。" if data.kind == "ping_pong"
                else f"{a} 放弃的线索在 {days} 天内 {n} 次被 {b} 领取。")
        tail = f"\n（另有 {more} 条）" if more > 0 else ""
        return Message(title, f"{what}\n涉及线索：\n{links}{tail}")
    title = f"Suspected collusion: {a} ↔ {b}" if data.kind == "ping_pong" else f"Suspected collusion: {a} → {b}"
    what = (f"Leads went back and forth between {a} and {b} {n} times in {days} days." if data.kind == "ping_pong"
            else f"Leads {a} let go were claimed by {b} {n} times in {days} days.")
    tail = f"\n(and {more} more)" if more > 0 else ""
    return Message(title, f"{what}\nLeads:\n{links}{tail}")


def trial_message(language: str) -> Message:
    if language == "zh":
        return Message("leadflow 测试消息", "这是一条测试消息：收到即说明该通知渠道设置正确。")
    return Message("leadflow test message", "This is a test message: if you read it, this channel works.")
