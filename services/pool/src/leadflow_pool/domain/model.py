"""A lead in pool's hands: waiting in a pool (公海) or held by an owner who must follow it up and convert it
by deadlines in business days, and the rules a claim (领取) must pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from leadflow_pool.domain.calendar import BusinessCalendar
from leadflow_pool.domain.pools import Pool, PoolRules, conversion_days


class PoolStatus(StrEnum):
    new = "new"  # known from intake or scoring, not routed yet
    owned = "owned"  # a rep holds it, under the ownership workflow's deadlines
    in_pool = "in_pool"  # 公海: waiting to be claimed
    converted = "converted"  # became customer + contact + opportunity: pool's part is over
    nurture = "nurture"  # 培育池: back to marketing (an SDR's disposition)
    invalid = "invalid"  # 无效线索 (an SDR's disposition)


class DeadlineKind(StrEnum):
    first_follow_up = "first_follow_up"
    inactivity = "inactivity"
    conversion = "conversion"


class OwnershipEnd(StrEnum):
    released = "released"
    transferred = "transferred"
    converted = "converted"
    recycled = "recycled"
    reassigned = "reassigned"  # assignment gave it to someone else
    dispositioned = "dispositioned"  # an SDR sent it to nurture or marked it invalid


@dataclass(frozen=True)
class OwnershipTerms:
    """What one ownership's workflow enforces (its input): the deadlines, and how early to remind.

    `seq` numbers the lead's ownerships: a workflow, reminder or recycle of an earlier one changes nothing."""

    lead_id: str
    owner_id: str
    pool_id: str
    seq: int
    first_follow_up: datetime | None
    inactivity: datetime | None
    conversion: datetime | None
    protected_until: datetime | None
    remind_before_s: float
    reminded: tuple[str, ...] = ()  # reminders already sent (carried across continue-as-new)
    history_limit: int = 2_000  # events before the workflow continues as new

    @property
    def workflow_id(self) -> str:
        return ownership_workflow_id(self.lead_id, self.seq)

    def next_deadline(self) -> tuple[DeadlineKind, datetime] | None:
        """The nearest deadline still to keep; never before the claim's protection ends."""
        due = [(at, kind) for kind, at in ((DeadlineKind.first_follow_up, self.first_follow_up),
                                           (DeadlineKind.inactivity, self.inactivity),
                                           (DeadlineKind.conversion, self.conversion)) if at is not None]
        if not due:
            return None
        at, kind = min(due, key=lambda d: d[0])
        if self.protected_until is not None and at < self.protected_until:
            at = self.protected_until
        return kind, at


def reminder_key(kind: str, at: datetime) -> str:
    return f"{kind}@{at.isoformat()}"


def ownership_workflow_id(lead_id: str, seq: int) -> str:
    return f"ownership-{lead_id}-{seq}"


@dataclass(frozen=True)
class Deadlines:
    first_follow_up: datetime
    conversion: datetime
    protected_until: datetime | None
    assumed_years: frozenset[int]

    def nearest(self) -> tuple[DeadlineKind, datetime]:
        return min(((DeadlineKind.first_follow_up, self.first_follow_up), (DeadlineKind.conversion, self.conversion)),
                   key=lambda kd: kd[1])


def ownership_deadlines(pool: Pool | None, rules: PoolRules, grade: str | None, customer_level: str | None,
                        start: datetime, calendar: BusinessCalendar, *, claimed: bool) -> Deadlines:
    """The deadlines of an ownership that starts at `start`: the pool's rules, or its recycle rule for the
    lead's grade or customer level where one applies."""
    rule = pool.recycle_rule(grade, customer_level) if pool else None
    first = calendar.add_business_days(start, (rule and rule.no_follow_up_days) or rules.first_follow_up_days)
    conversion = calendar.add_business_days(start, conversion_days(rule, rules))
    protected = (calendar.add_business_days(start, rules.protection_days)
                 if claimed and rules.protection_days else None)
    assumed = first.assumed_years | conversion.assumed_years | (protected.assumed_years if protected else frozenset())
    return Deadlines(first.at, conversion.at, protected.at if protected else None, assumed)


def inactivity_deadline(pool: Pool | None, rules: PoolRules, grade: str | None, customer_level: str | None,
                        followed_up_at: datetime, calendar: BusinessCalendar) -> datetime:
    """A follow-up restarts the inactivity clock."""
    rule = pool.recycle_rule(grade, customer_level) if pool else None
    return calendar.add_business_days(followed_up_at, (rule and rule.inactivity_days) or rules.inactivity_days).at


def recycle_destination(pool: Pool | None, rules: PoolRules, grade: str | None, customer_level: str | None,
                        pool_id: str) -> str:
    rule = pool.recycle_rule(grade, customer_level) if pool else None
    return (rule and rule.to_pool) or rules.recycle_to or pool_id


def remind_before(rules: PoolRules) -> timedelta:
    return timedelta(hours=rules.reminder_hours)


def mask_mobile(mobile: str | None) -> str | None:
    """138****5678: the pool shows who a lead is without handing its contact to someone who has not claimed it."""
    if not mobile:
        return mobile
    digits = mobile[3:] if mobile.startswith("+86") else mobile.lstrip("+")
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_text(value: str | None) -> str | None:
    if not value:
        return value
    return value[:1] + "*" * max(len(value) - 1, 1)
