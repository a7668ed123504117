"""From an event to the messages it causes: one per (event, recipient, channel), rendered in the recipient's
language, due now or at the end of their quiet hours; and what becomes of a message after a try."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from leadflow_notify.domain.messages import render, trial_message
from leadflow_notify.domain.model import ChannelTarget, Kind, Recipient
from leadflow_notify.domain.routing import audience, lead_of
from leadflow_notify.domain.timing import after_failure, next_allowed


class Status(StrEnum):
    pending = "pending"  # due at next_attempt_at (claimed by a dispatcher: due again when its lease ends)
    sent = "sent"
    failed = "failed"  # every try failed, or nowhere left to send it


@dataclass(frozen=True)
class Planned:
    """A message to send: the row the consumer writes."""

    event_id: uuid.UUID
    topic: str
    kind: Kind
    person_id: str
    channel: str
    lead_id: uuid.UUID | None
    title: str
    body: str
    due: datetime

    def row(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "topic": self.topic, "kind": str(self.kind), "person_id": self.person_id,
                "channel": self.channel, "lead_id": self.lead_id, "title": self.title, "body": self.body,
                "status": str(Status.pending), "attempts": 0, "next_attempt_at": self.due}


def plan(event_id: uuid.UUID, topic: str, kind: Kind, data: Any, known: Mapping[str, Recipient],
         team_of: Mapping[str, str], console_url: str, now: datetime) -> list[Planned]:
    """The messages an event causes, one per channel of each recipient who hears of it."""
    planned = []
    for recipient in audience(kind, data, known, team_of):
        message = render(kind, data, recipient.language, recipient.timezone, console_url)
        due = next_allowed(now, recipient.quiet_hours, recipient.timezone)
        planned.extend(Planned(event_id, topic, kind, recipient.person_id, str(target.channel), lead_of(kind, data),
                               message.title, message.body, due) for target in recipient.channels)
    return planned


def plan_trial(event_id: uuid.UUID, recipient: Recipient, now: datetime) -> list[Planned]:
    """A test message on every channel of the recipient, now (quiet hours or not: they asked for it)."""
    message = trial_message(recipient.language)
    return [Planned(event_id, "test", Kind.test, recipient.person_id, str(target.channel), None, message.title,
                    message.body, now) for target in recipient.channels]


# ---- a claimed message, before and after its try -------------------------------------------------------

@dataclass(frozen=True)
class Send:
    target: ChannelTarget


@dataclass(frozen=True)
class Postpone:
    until: datetime  # the person's quiet hours (changed since the message was queued)


@dataclass(frozen=True)
class GiveUp:
    en: str  # nowhere to send it any more


def on_claim(recipient: Recipient | None, channel: str, kind: str, now: datetime) -> Send | Postpone | GiveUp:
    """What to do with a due message, given its recipient as kept now (quiet hours changed since it was queued
    hold it back, unless it is a test message: asked for, it goes at once)."""
    if recipient is None:
        return GiveUp("the recipient was removed")
    target = recipient.channel(channel)
    if target is None:
        return GiveUp(f"the recipient no longer has a {channel} channel")
    allowed = next_allowed(now, None if kind == Kind.test else recipient.quiet_hours, recipient.timezone)
    if allowed > now:
        return Postpone(allowed)
    return Send(target)


@dataclass(frozen=True)
class Outcome:
    status: Status
    next_attempt_at: datetime | None


def after_try(sent: bool, attempts: int, now: datetime, recipient: Recipient, kind: str, *, max_attempts: int,
              backoff_s: float, backoff_max_s: float) -> Outcome:
    """The message's state after its `attempts`-th try: sent; pending again after the backoff (out of quiet
    hours, but for a test message); or failed once the tries are spent."""
    if sent:
        return Outcome(Status.sent, None)
    quiet = None if kind == Kind.test else recipient.quiet_hours
    retry_at = after_failure(now, attempts, max_attempts, backoff_s, backoff_max_s, quiet, recipient.timezone)
    return Outcome(Status.failed, None) if retry_at is None else Outcome(Status.pending, retry_at)


def unique_people(values: Sequence[str | None]) -> list[str]:
    return sorted({v for v in values if v})
