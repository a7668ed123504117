"""Event contracts: one versioned topic per event type, its data model, and who produces it.

A contract only grows compatibly (new optional fields) within a version; anything else is a new
version (`leads.received.v2`) published beside the old one until every consumer has moved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Contract(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Channel(StrEnum):
    """Where a lead came from (线索来源)."""

    paid_ads = "paid_ads"
    channel_partner = "channel_partner"
    website = "website"
    app = "app"
    wechat_official_account = "wechat_official_account"
    mini_program = "mini_program"
    xiaohongshu = "xiaohongshu"
    hotline_400 = "hotline_400"
    sales_self_sourced = "sales_self_sourced"
    referral = "referral"
    business_cooperation = "business_cooperation"
    offline_event = "offline_event"
    other = "other"


class LeadSnapshot(Contract):
    """The lead as intake normalized it (contacts in their normal forms: E.164, lower-case e-mail)."""

    name: str | None = None
    mobile: str | None = Field(None, description="E.164, e.g. +8613800138000.")
    wechat: str | None = None
    email: str | None = None
    company_name: str | None = None
    company_credit_code: str | None = Field(None, description="统一社会信用代码.")
    title: str | None = None
    province: str | None = None
    city: str | None = None
    industry: str | None = None
    source: Channel = Channel.other
    campaign: str | None = None
    referrer: str | None = None
    product_interest: str | None = None
    bant: dict[str, Any] | None = None
    consent: dict[str, bool] | None = None
    custom: dict[str, Any] = Field(default_factory=dict)


class LeadReceived(Contract):
    """intake accepted a submission: a new lead (`created`) or one merged into an existing lead."""

    lead_id: uuid.UUID
    submission_id: uuid.UUID
    outcome: str = Field(description="created | merged")
    duplicate_of: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    account_owner_id: str | None = None
    partner_id: str | None = None
    lead: LeadSnapshot


class DuplicateDetected(Contract):
    """撞单提醒: a submission matched a lead someone already owns."""

    lead_id: uuid.UUID
    submission_id: uuid.UUID
    matched_on: str = Field(description="mobile | wechat | email")
    current_owner_id: str | None = None
    partner_id: str | None = None


class ScoreFactor(Contract):
    rule: str
    points: float
    detail: str | None = None


class LeadScored(Contract):
    """scoring's current view of a lead: sent on every change of score, grade or stage."""

    lead_id: uuid.UUID
    score: float
    grade: str = Field(description="A | B | C | D")
    stage: str = Field(description="nurture | mql | disqualified")
    probability: float | None = Field(None, ge=0, le=1)
    explanation: list[ScoreFactor] = Field(default_factory=list)
    rules_version: str
    model_version: str | None = None
    company_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    lead: LeadSnapshot | None = None
    verdict_at: AwareDatetime | None = Field(
        None, description="When the SDR verdict this score reflects was given (none: no verdict). A consumer that "
                          "hears the verdict after this score knows the score already answers it.")


class LeadAssigned(Contract):
    """assignment gave a lead to a rep (`owner_id`): its first route, a second assignment (二次分配) after a
    recycle, a manager's pick from the queue, a territory handed over or a batch distribution.

    (`pool_id` and `queue` are kept for old consumers: a lead routed to a pool or queue is now
    `leads.pooled.v1` or `leads.queued.v1`.)"""

    lead_id: uuid.UUID
    owner_id: str | None = None
    pool_id: str | None = None
    queue: str | None = None
    rule: str = Field(description="The id of the rule that decided (or `manual`, `territory`, `distribute`).")
    reason: str | None = None
    assigned_at: AwareDatetime
    team_id: str | None = None
    rules_version: str | None = Field(None, description="The rule set's version that decided.")
    strategy: str | None = Field(None, description="round_robin, weighted, territory, account_owner, ...")
    kind: str | None = Field(None, description="route | reassign | manual | territory | distribute")
    previous_owner_ids: list[str] = Field(default_factory=list, description="Who held the lead before, oldest first.")
    decision_id: int | None = Field(None, description="assignment's record of the decision (its explanation).")
    qualified_by: str | None = Field(None, description="The SDR whose qualification handed the lead to sales (credit).")


class LeadPooled(Contract):
    """assignment sent a lead to a public pool (公海): a rule said so, or no eligible rep could take it."""

    lead_id: uuid.UUID
    pool_id: str
    team_id: str | None = None
    rule: str
    rules_version: str | None = None
    strategy: str | None = None
    reason: str
    previous_owner_ids: list[str] = Field(default_factory=list)
    pooled_at: AwareDatetime
    decision_id: int | None = None


class LeadQueued(Contract):
    """assignment put a lead in a manager's queue: a manager decides who takes it (`POST .../assign`)."""

    lead_id: uuid.UUID
    queue: str
    team_id: str | None = None
    rule: str
    rules_version: str | None = None
    reason: str
    previous_owner_ids: list[str] = Field(default_factory=list)
    queued_at: AwareDatetime
    decision_id: int | None = None


class LeadClaimed(Contract):
    """领取: a rep took a lead from a public pool."""

    lead_id: uuid.UUID
    pool_id: str
    owner_id: str
    claimed_at: AwareDatetime
    ownership_seq: int | None = Field(None, description="Which of the lead's ownerships (pool counts them).")


class LeadReleased(Contract):
    """放弃: the owner gave a lead back to a pool, with a reason from the managed list."""

    lead_id: uuid.UUID
    pool_id: str
    previous_owner_id: str
    reason: str
    released_at: AwareDatetime
    ownership_seq: int | None = Field(None, description="Which of the lead's ownerships (pool counts them).")


class LeadTransferred(Contract):
    """A lead moved between pools or owners by a manager's (or a member's) hand."""

    lead_id: uuid.UUID
    from_owner_id: str | None = None
    to_owner_id: str | None = None
    from_pool_id: str | None = None
    to_pool_id: str | None = None
    by: str = Field(description="The staff id who transferred it.")
    reason: str | None = None
    transferred_at: AwareDatetime
    ownership_seq: int | None = Field(None, description="Which of the lead's ownerships (pool counts them).")


class LeadRecycled(Contract):
    """回收: a lead went back to a pool because its owner missed a deadline (or a manager took it back)."""

    lead_id: uuid.UUID
    pool_id: str
    previous_owner_id: str | None = None
    reason: str = Field(description="first_follow_up_overdue | inactivity_overdue | conversion_overdue | manager "
                                    "(older events: follow_up_overdue)")
    recycled_at: AwareDatetime
    from_pool_id: str | None = Field(None, description="The pool whose rules recycled it, when it lands elsewhere.")


class DeadlineApproaching(Contract):
    """A reminder: an owner's deadline on a lead is near (first follow-up, inactivity or conversion)."""

    lead_id: uuid.UUID
    owner_id: str
    pool_id: str
    deadline_kind: str = Field(description="first_follow_up | inactivity | conversion")
    deadline: AwareDatetime
    reminded_at: AwareDatetime


class LeadDispositioned(Contract):
    """An SDR's verdict on a lead after cleansing (线索清洗): qualified (with BANT answers, for scoring's MQL
    decision and a hand-over to sales), back to nurture (培育池) or invalid, with the reason."""

    lead_id: uuid.UUID
    by: str = Field(description="The SDR's staff id (credited when the lead is qualified).")
    disposition: str = Field(description="qualified | nurture | invalid")
    reason: str | None = Field(None, description="A code of the managed list (nurture and invalid).")
    bant: dict[str, Any] | None = Field(None, description="Budget, authority, need, timeline answers.")
    follow_up_id: uuid.UUID | None = None
    dispositioned_at: AwareDatetime


class CollusionSuspected(Contract):
    """串通: one rep keeps claiming what another just released or let lapse (`pair`), or a lead ping-pongs
    between the same reps (`ping_pong`)."""

    kind: str = Field(description="pair | ping_pong")
    released_by: str
    claimed_by: str
    lead_ids: list[uuid.UUID]
    occurrences: int
    window_days: int
    detected_at: AwareDatetime


class ReactivationCandidate(Contract):
    """库存线索激活: a lead idle in a pool long enough for marketing to re-engage (do-not-contact honoured,
    the touch interval and the daily cap kept)."""

    lead_id: uuid.UUID
    pool_id: str
    idle_days: int
    grade: str | None = None
    name: str | None = None
    mobile: str | None = None
    email: str | None = None
    selected_at: AwareDatetime


class LeadActivity(Contract):
    """Something a lead did or that was done with it (page view, demo request, call...)."""

    activity_id: uuid.UUID
    lead_id: uuid.UUID | None = None
    mobile: str | None = None
    wechat: str | None = None
    email: str | None = None
    type: str
    url: str | None = None
    occurred_at: AwareDatetime
    attributes: dict[str, Any] = Field(default_factory=dict)


class LeadAccepted(Contract):
    """Sales accepted a lead (SQL, 销售认可): its owner judged it worth pursuing, or a manager overrode."""

    lead_id: uuid.UUID
    owner_id: str | None = None
    accepted_by: str
    override: bool = Field(False, description="A manager accepted it for the owner.")
    team_id: str | None = None
    accepted_at: AwareDatetime


class LeadConverted(Contract):
    """A qualified lead became customer + contact + opportunity (线索转化)."""

    lead_id: uuid.UUID
    customer_id: uuid.UUID
    contact_id: uuid.UUID
    opportunity_id: uuid.UUID
    owner_id: str | None = None
    merged_into_existing_customer: bool = False
    converted_at: AwareDatetime
    team_id: str | None = None
    sdr_id: str | None = Field(None, description="The SDR who qualified the lead (SDR 奖励).")
    converted_by: str | None = None


class OpportunityClosed(Contract):
    """An opportunity was won or lost (赢单/输单): the outcome of the lead it came from, which scoring
    learns its predictive score from."""

    opportunity_id: uuid.UUID
    lead_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    outcome: str = Field(description="won | lost")
    amount: float | None = None
    reason: str | None = None
    closed_at: AwareDatetime


class CustomerChanged(Contract):
    """The customer master (客户) as opportunity keeps it; intake links new leads to it. `change` says what
    happened: `created` (a conversion made it) or `merged` (a converted lead joined an existing customer)."""

    customer_id: uuid.UUID
    name: str
    credit_code: str | None = None
    owner_id: str | None = None
    mobiles: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    change: str | None = Field(None, description="created | merged")
    kind: str | None = Field(None, description="company (B2B) | person (B2C)")
    lead_id: uuid.UUID | None = Field(None, description="The converted lead that created or joined it.")
    changed_at: AwareDatetime | None = None


class OpportunityChanged(Contract):
    """An opportunity (商机) as it moves: `created`, `stage_changed`, `won`, `lost`, `realized` (its first
    payment came: new-sale credit counts from here, 新签业绩以首次消费为准)."""

    opportunity_id: uuid.UUID
    lead_id: uuid.UUID
    customer_id: uuid.UUID
    change: str = Field(description="created | stage_changed | won | lost | realized")
    stage: str
    from_stage: str | None = None
    status: str = Field(description="open | won | lost")
    probability: float = Field(ge=0, le=1)
    name: str
    amount: float
    currency: str
    product_line: str | None = None
    expected_close: str | None = Field(None, description="ISO date.")
    owner_id: str | None = None
    team_id: str | None = None
    sdr_id: str | None = None
    lost_reason: str | None = None
    contract_ref: str | None = None
    realized_amount: float | None = None
    by: str | None = Field(None, description="Who made the change (staff id, or `billing`).")
    at: AwareDatetime


class PaymentReceived(Contract):
    """A payment billing received for an opportunity (by its id or its contract reference): the first one
    realizes the sale."""

    payment_id: str = Field(description="billing's own id of the payment: a payment told twice counts once.")
    opportunity_id: uuid.UUID | None = None
    contract_ref: str | None = None
    amount: float = Field(gt=0)
    currency: str = "CNY"
    received_at: AwareDatetime


@dataclass(frozen=True)
class Topic:
    """A versioned Kafka topic and the contract of its events."""

    name: str
    data_model: type[Contract]
    producer: str
    description: str

    @property
    def event_type(self) -> str:
        return f"io.leadflow.{self.name}"

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    @property
    def schema_urn(self) -> str:
        """The `$id` of its envelope's JSON Schema, and every event's `dataschema`."""
        return f"urn:leadflow:schema:{self.name}"


LEADS_RECEIVED = Topic("leads.received.v1", LeadReceived, "intake", LeadReceived.__doc__ or "")
LEADS_DUPLICATE_DETECTED = Topic(
    "leads.duplicate_detected.v1", DuplicateDetected, "intake", DuplicateDetected.__doc__ or ""
)
LEADS_ACTIVITY = Topic("leads.activity.v1", LeadActivity, "any", LeadActivity.__doc__ or "")
LEADS_SCORED = Topic("leads.scored.v1", LeadScored, "scoring", LeadScored.__doc__ or "")
LEADS_ASSIGNED = Topic("leads.assigned.v1", LeadAssigned, "assignment", LeadAssigned.__doc__ or "")
LEADS_POOLED = Topic("leads.pooled.v1", LeadPooled, "assignment", LeadPooled.__doc__ or "")
LEADS_QUEUED = Topic("leads.queued.v1", LeadQueued, "assignment", LeadQueued.__doc__ or "")
LEADS_CLAIMED = Topic("leads.claimed.v1", LeadClaimed, "pool", LeadClaimed.__doc__ or "")
LEADS_RELEASED = Topic("leads.released.v1", LeadReleased, "pool", LeadReleased.__doc__ or "")
LEADS_TRANSFERRED = Topic("leads.transferred.v1", LeadTransferred, "pool", LeadTransferred.__doc__ or "")
LEADS_RECYCLED = Topic("leads.recycled.v1", LeadRecycled, "pool", LeadRecycled.__doc__ or "")
LEADS_DEADLINE_APPROACHING = Topic(
    "leads.deadline_approaching.v1", DeadlineApproaching, "pool", DeadlineApproaching.__doc__ or ""
)
LEADS_DISPOSITIONED = Topic("leads.dispositioned.v1", LeadDispositioned, "pool", LeadDispositioned.__doc__ or "")
LEADS_COLLUSION_SUSPECTED = Topic(
    "leads.collusion_suspected.v1", CollusionSuspected, "pool", CollusionSuspected.__doc__ or ""
)
LEADS_REACTIVATION_CANDIDATES = Topic(
    "leads.reactivation_candidates.v1", ReactivationCandidate, "pool", ReactivationCandidate.__doc__ or ""
)
LEADS_ACCEPTED = Topic("leads.accepted.v1", LeadAccepted, "opportunity", LeadAccepted.__doc__ or "")
LEADS_CONVERTED = Topic("leads.converted.v1", LeadConverted, "opportunity", LeadConverted.__doc__ or "")
OPPORTUNITIES = Topic("opportunities.v1", OpportunityChanged, "opportunity", OpportunityChanged.__doc__ or "")
PAYMENTS_RECEIVED = Topic("payments.received.v1", PaymentReceived, "billing", PaymentReceived.__doc__ or "")
OPPORTUNITIES_CLOSED = Topic(
    "opportunities.closed.v1", OpportunityClosed, "opportunity", OpportunityClosed.__doc__ or ""
)
CUSTOMERS = Topic("customers.v1", CustomerChanged, "opportunity", CustomerChanged.__doc__ or "")

TOPICS: tuple[Topic, ...] = (
    LEADS_RECEIVED,
    LEADS_DUPLICATE_DETECTED,
    LEADS_ACTIVITY,
    LEADS_SCORED,
    LEADS_ASSIGNED,
    LEADS_POOLED,
    LEADS_QUEUED,
    LEADS_CLAIMED,
    LEADS_RELEASED,
    LEADS_TRANSFERRED,
    LEADS_RECYCLED,
    LEADS_DEADLINE_APPROACHING,
    LEADS_DISPOSITIONED,
    LEADS_COLLUSION_SUSPECTED,
    LEADS_REACTIVATION_CANDIDATES,
    LEADS_ACCEPTED,
    LEADS_CONVERTED,
    OPPORTUNITIES,
    OPPORTUNITIES_CLOSED,
    CUSTOMERS,
    PAYMENTS_RECEIVED,
)


def topic_by_name(name: str) -> Topic:
    for topic in TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"unknown topic {name!r}; known: {', '.join(t.name for t in TOPICS)}")


def all_topic_names() -> list[str]:
    """Every topic the platform uses, dead-letter twins included (what the stack creates)."""
    return [name for topic in TOPICS for name in (topic.name, topic.dlq)]
