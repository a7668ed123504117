"""A lead in pool's hands: owned by a rep with a follow-up deadline, or waiting in a pool."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from leadflow_pool.domain.calendar import add_business_days


class PoolStatus(StrEnum):
    owned = "owned"  # a rep holds it and must follow up by the deadline
    followed_up = "followed_up"
    in_pool = "in_pool"  # 公海: waiting to be claimed
    recycled = "recycled"  # 回收: taken back from an owner who did not follow up


@dataclass(frozen=True)
class FollowUpDeadline:
    """What the follow-up workflow enforces for one owned lead (input of the workflow)."""

    lead_id: str
    owner_id: str
    pool_id: str
    deadline: datetime


def follow_up_deadline(
    lead_id: str, owner_id: str, pool_id: str, assigned_at: datetime, business_days: int
) -> FollowUpDeadline:
    return FollowUpDeadline(lead_id, owner_id, pool_id, add_business_days(assigned_at, business_days))


def workflow_id(lead_id: str) -> str:
    return f"follow-up-{lead_id}"
