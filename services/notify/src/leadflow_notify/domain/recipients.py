"""A recipient's document, as a person (or their manager) sends it, checked whole: every problem is reported with
its path and its reason in both languages (the caller reads theirs), nothing is half applied.

    {"display_name": "王伟", "language": "zh", "timezone": "Asia/Shanghai",
     "quiet_hours": {"start": "22:00", "end": "08:00"},
     "kinds": ["deadline", "recycled", "duplicate", "assigned", "collusion"],
     "watch_teams": ["east"],
     "channels": [{"channel": "dingtalk", "access_token": "…", "secret": "SEC…"},
                  {"channel": "wecom", "key": "…"}, {"channel": "lark", "token": "…", "secret": "…"},
                  {"channel": "email", "address": "wang.wei@example.cn"}]}

A secret sent back as it was shown (masked, `****abcd`) keeps the value stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

from leadflow_notify.domain.model import (
    EVENT_KINDS, MASK, TARGET_FIELDS, Channel, ChannelTarget, Kind, QuietHours, Recipient, mask,
)

FIELDS = ("person_id", "display_name", "language", "timezone", "quiet_hours", "kinds", "watch_teams", "channels")
READ_ONLY = ("updated_by", "updated_at")  # in answers; ignored when a shown document is sent back
MAX_CHANNELS = 10
MAX_TEAMS = 50
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# What each robot accepts (apprise validates the same way): tokens and keys of letters, digits and dashes.
_FORMATS: dict[tuple[Channel, str], tuple[re.Pattern[str], str, str]] = {
    (Channel.dingtalk, "access_token"): (re.compile(r"^[A-Za-z0-9]+$"), "letters and digits", "字母和数字"),
    (Channel.dingtalk, "secret"): (re.compile(r"^[A-Za-z0-9]+$"), "letters and digits (SEC…)", "字母和数字（SEC…）"),
    (Channel.wecom, "key"): (re.compile(r"^[A-Za-z0-9_-]+$"), "letters, digits, - and _", "字母、数字、- 和 _"),
    (Channel.lark, "token"): (re.compile(r"^[A-Za-z0-9-]+$"), "letters, digits and -", "字母、数字和 -"),
    (Channel.feishu, "token"): (re.compile(r"^[A-Za-z0-9-]+$"), "letters, digits and -", "字母、数字和 -"),
    (Channel.lark, "secret"): (re.compile(r"^\S+$"), "text without spaces", "不含空格的文本"),
    (Channel.feishu, "secret"): (re.compile(r"^\S+$"), "text without spaces", "不含空格的文本"),
    (Channel.email, "address"): (_EMAIL, "an e-mail address", "邮箱地址"),
}


@dataclass(frozen=True)
class Issue:
    path: str
    en: str
    zh: str

    def text(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


class InvalidRecipient(ValueError):
    """The document was refused whole; `issues` says every reason."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(f"{i.path or '<root>'}: {i.en}" for i in issues))
        self.issues = issues


class _Check:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, path: str, en: str, zh: str) -> None:
        self.issues.append(Issue(path, en, zh))

    def text(self, value: Any, path: str, max_length: int, required: bool = False) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(path, "is required", "为必填项")
            return None
        if not isinstance(value, str):
            self.add(path, "must be text", "须为文本")
            return None
        value = value.strip()
        if len(value) > max_length:
            self.add(path, f"at most {max_length} characters", f"最多 {max_length} 个字符")
            return None
        return value

    def texts(self, value: Any, path: str, max_items: int, max_length: int) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, "must be a list", "须为列表")
            return []
        if len(value) > max_items:
            self.add(path, f"at most {max_items} items", f"最多 {max_items} 项")
            return []
        found = [self.text(v, f"{path}[{i}]", max_length, required=True) for i, v in enumerate(value)]
        return [v for v in found if v is not None]

    def clock(self, value: Any, path: str) -> time | None:
        found = _TIME.match(value) if isinstance(value, str) else None
        if not found:
            self.add(path, "a time as HH:MM, e.g. 22:00", "须为 HH:MM 格式的时间，如 22:00")
            return None
        return time(int(found.group(1)), int(found.group(2)))


def parse_recipient(person_id: str, doc: Any, *, stored: Recipient | None = None,
                    available: Iterable[Channel] = tuple(Channel)) -> Recipient:
    """The recipient a document describes (defaults for what it leaves out); InvalidRecipient with every
    problem. `stored`: the recipient as kept now (masked secrets sent back stand for its values); `available`:
    the channels this deployment can send through."""
    check = _Check()
    if not isinstance(doc, Mapping):
        raise InvalidRecipient([Issue("", "the body must be an object (JSON or YAML)", "请求体须为一个对象（JSON 或 YAML）")])
    for key in doc:
        if key not in FIELDS and key not in READ_ONLY:
            check.add(str(key), f"unknown field (known: {', '.join(FIELDS[1:])})",
                      f"未知字段（可用：{'、'.join(FIELDS[1:])}）")
    if doc.get("person_id") not in (None, person_id):
        check.add("person_id", f"differs from the path's {person_id}", f"与路径中的 {person_id} 不一致")
    display_name = check.text(doc.get("display_name"), "display_name", 100)
    language = doc.get("language") or "zh"
    if language not in ("zh", "en"):
        check.add("language", "must be zh or en", "须为 zh 或 en")
    timezone = doc.get("timezone") or "Asia/Shanghai"
    if not _known_timezone(timezone):
        check.add("timezone", f"not a known timezone: {timezone!r} (e.g. Asia/Shanghai)",
                  f"未知时区：{timezone!r}（如 Asia/Shanghai）")
    quiet = _quiet_hours(check, doc.get("quiet_hours"))
    kinds = _kinds(check, doc.get("kinds"))
    teams = check.texts(doc.get("watch_teams"), "watch_teams", MAX_TEAMS, 100)
    channels = _channels(check, doc.get("channels"), stored, frozenset(available))
    if check.issues:
        raise InvalidRecipient(check.issues)
    return Recipient(person_id=person_id, display_name=display_name, language=language, timezone=timezone,
                     quiet_hours=quiet, kinds=kinds, watch_teams=frozenset(teams), channels=channels)


def _known_timezone(name: Any) -> bool:
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError; a malformed key a ValueError
        return False
    return True


def _quiet_hours(check: _Check, value: Any) -> QuietHours | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        check.add("quiet_hours", 'an object {"start": "22:00", "end": "08:00"}, or null',
                  '须为 {"start": "22:00", "end": "08:00"} 这样的对象，或 null')
        return None
    for key in value:
        if key not in ("start", "end"):
            check.add(f"quiet_hours.{key}", "unknown field (known: start, end)", "未知字段（可用：start、end）")
    start = check.clock(value.get("start"), "quiet_hours.start")
    end = check.clock(value.get("end"), "quiet_hours.end")
    if start is None or end is None:
        return None
    if start == end:
        check.add("quiet_hours", "start and end must differ", "开始与结束时间不能相同")
        return None
    return QuietHours(start, end)


def _kinds(check: _Check, value: Any) -> frozenset[Kind]:
    if value is None:
        return frozenset(EVENT_KINDS)
    names = [str(k) for k in EVENT_KINDS]
    found: set[Kind] = set()
    for i, name in enumerate(check.texts(value, "kinds", len(names) * 2, 20)):
        if name in names:
            found.add(Kind(name))
        else:
            check.add(f"kinds[{i}]", f"unknown kind {name!r} (one of {', '.join(names)})",
                      f"未知的消息类型 {name!r}（可选：{'、'.join(names)}）")
    return frozenset(found)


def _channels(check: _Check, value: Any, stored: Recipient | None, available: frozenset[Channel]
              ) -> tuple[ChannelTarget, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        check.add("channels", "must be a list", "须为列表")
        return ()
    if len(value) > MAX_CHANNELS:
        check.add("channels", f"at most {MAX_CHANNELS} channels", f"最多 {MAX_CHANNELS} 个渠道")
        return ()
    names = [str(c) for c in Channel]
    targets: list[ChannelTarget] = []
    for i, item in enumerate(value):
        path = f"channels[{i}]"
        if not isinstance(item, Mapping):
            check.add(path, 'an object such as {"channel": "wecom", "key": "…"}',
                      '须为 {"channel": "wecom", "key": "…"} 这样的对象')
            continue
        name = item.get("channel")
        if name not in names:
            check.add(f"{path}.channel", f"one of {', '.join(names)}", f"须为以下之一：{'、'.join(names)}")
            continue
        channel = Channel(name)
        if channel not in available:
            check.add(f"{path}.channel", "e-mail is not available: no SMTP relay is configured"
                      if channel == Channel.email else f"{channel} is not available here",
                      "邮件渠道不可用：未配置 SMTP 服务器" if channel == Channel.email else f"{channel} 渠道不可用")
            continue
        if any(t.channel == channel for t in targets):
            check.add(f"{path}.channel", f"{channel} is listed twice: one target per channel",
                      f"{channel} 渠道重复：每种渠道只能设置一个")
            continue
        target = _target(check, path, channel, item, stored.channel(channel) if stored else None)
        if target is not None:
            targets.append(target)
    return tuple(targets)


def _target(check: _Check, path: str, channel: Channel, item: Mapping[str, Any], stored: ChannelTarget | None
            ) -> ChannelTarget | None:
    known = [name for name, _, _ in TARGET_FIELDS[channel]]
    before = len(check.issues)
    for key in item:
        if key != "channel" and key not in known:
            check.add(f"{path}.{key}", f"unknown field for {channel} (known: {', '.join(known)})",
                      f"{channel} 渠道没有该字段（可用：{'、'.join(known)}）")
    fields: dict[str, str] = {}
    for name, required, secret in TARGET_FIELDS[channel]:
        value = check.text(item.get(name), f"{path}.{name}", 500, required=required)
        if value is None:
            continue
        if secret and value.startswith(MASK):
            kept = stored.fields.get(name) if stored else None
            if kept is None or mask(kept) != value:
                check.add(f"{path}.{name}", "a masked value only stands for the one stored: send the value itself",
                          "打码的值只能代表已保存的值：请填写完整的值")
                continue
            value = kept
        pattern, en, zh = _FORMATS[(channel, name)]
        if not pattern.match(value):
            check.add(f"{path}.{name}", f"not valid: {en} expected", f"格式不正确：应为{zh}")
            continue
        fields[name] = value
    return ChannelTarget(channel, fields) if len(check.issues) == before else None


def document(recipient: Recipient) -> dict[str, Any]:
    """The recipient as answers show it (secrets masked); the same shape parse_recipient takes."""
    quiet = recipient.quiet_hours
    hours = {"start": quiet.start.strftime("%H:%M"), "end": quiet.end.strftime("%H:%M")} if quiet else None
    return {
        "person_id": recipient.person_id,
        "display_name": recipient.display_name,
        "language": recipient.language,
        "timezone": recipient.timezone,
        "quiet_hours": hours,
        "kinds": sorted(str(k) for k in recipient.kinds),
        "watch_teams": sorted(recipient.watch_teams),
        "channels": [target.masked() for target in recipient.channels],
    }


def added_teams(recipient: Recipient, stored: Recipient | None) -> set[str]:
    """The watched teams a change adds (a caller may only add teams they manage)."""
    return set(recipient.watch_teams) - set(stored.watch_teams if stored else ())
