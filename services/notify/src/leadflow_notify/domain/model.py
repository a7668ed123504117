"""What notify knows of a person it tells things: the kinds of news they want, where they want them (channels,
each with its target), in which language and timezone, and when to keep quiet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum


class Kind(StrEnum):
    """What a message is about: one per event notify listens to (and `test`, a message asked for by hand)."""

    deadline = "deadline"  # leads.deadline_approaching.v1: a reminder before an owner's deadline
    recycled = "recycled"  # leads.recycled.v1: 回收, a lead went back to a pool
    duplicate = "duplicate"  # leads.duplicate_detected.v1: 撞单提醒
    assigned = "assigned"  # leads.assigned.v1: a new lead to work
    collusion = "collusion"  # leads.collusion_suspected.v1: 串通 flags, for the managers of the reps' teams
    test = "test"


EVENT_KINDS: tuple[Kind, ...] = (Kind.deadline, Kind.recycled, Kind.duplicate, Kind.assigned, Kind.collusion)


class Channel(StrEnum):
    dingtalk = "dingtalk"  # 钉钉 custom robot
    wecom = "wecom"  # 企业微信 group robot
    lark = "lark"  # Lark custom bot (open.larksuite.com)
    feishu = "feishu"  # 飞书 custom bot (open.feishu.cn): Lark's API on its own host
    email = "email"


# Each channel's target fields: (name, required, secret). Secret ones are masked in every answer.
TARGET_FIELDS: dict[Channel, tuple[tuple[str, bool, bool], ...]] = {
    Channel.dingtalk: (("access_token", True, True), ("secret", False, True)),
    Channel.wecom: (("key", True, True),),
    Channel.lark: (("token", True, True), ("secret", False, True)),
    Channel.feishu: (("token", True, True), ("secret", False, True)),
    Channel.email: (("address", True, False),),
}

WATCH_ALL = "*"  # a watched team that stands for every team
MASK = "****"


@dataclass(frozen=True)
class QuietHours:
    """A daily window (local time) without messages; `start > end` crosses midnight (22:00–08:00)."""

    start: time
    end: time

    def covers(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class ChannelTarget:
    """Where one channel reaches the person: a robot's credentials or an address (see TARGET_FIELDS)."""

    channel: Channel
    fields: Mapping[str, str]

    def secrets(self) -> list[str]:
        """The values that must never be shown or logged."""
        return [self.fields[name] for name, _, secret in TARGET_FIELDS[self.channel]
                if secret and self.fields.get(name)]

    def masked(self) -> dict[str, str]:
        """The target as an answer shows it: secret values down to their last four characters."""
        shown = {"channel": str(self.channel)}
        for name, _, secret in TARGET_FIELDS[self.channel]:
            value = self.fields.get(name)
            if value:
                shown[name] = mask(value) if secret else value
        return shown


def mask(value: str) -> str:
    return MASK + value[-4:] if len(value) > 8 else MASK


@dataclass(frozen=True)
class Recipient:
    """A person notify tells things, by their staff id (the token's `sub`)."""

    person_id: str
    display_name: str | None = None
    language: str = "zh"
    timezone: str = "Asia/Shanghai"
    quiet_hours: QuietHours | None = None
    kinds: frozenset[Kind] = frozenset(EVENT_KINDS)
    watch_teams: frozenset[str] = frozenset()  # managers: the teams whose collusion flags they hear of
    channels: tuple[ChannelTarget, ...] = field(default_factory=tuple)

    def wants(self, kind: Kind) -> bool:
        return kind == Kind.test or kind in self.kinds

    def channel(self, channel: str) -> ChannelTarget | None:
        return next((c for c in self.channels if c.channel == channel), None)

    def watches(self, teams: set[str]) -> bool:
        return WATCH_ALL in self.watch_teams or bool(self.watch_teams & teams)


@dataclass(frozen=True)
class Message:
    """A message as rendered for one person: its title and body in their language, and the lead it is about."""

    title: str
    body: str
