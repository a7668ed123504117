"""scoring's subscriptions: leads, activities and opportunity outcomes, each a batch per transaction."""

from __future__ import annotations

from typing import Any

from leadflow_scoring.bootstrap import Scoring
from leadflow_shared.consumers import BatchSubscription, split_lanes
from leadflow_shared.contracts import LEADS_ACTIVITY, LEADS_DISPOSITIONED, LEADS_RECEIVED, OPPORTUNITIES_CLOSED
from leadflow_shared.events import CloudEvent


def subscriptions(scoring: Scoring) -> list[BatchSubscription]:
    handlers = scoring.handlers
    size = scoring.settings.scoring_batch_max_records
    lanes = scoring.settings.scoring_lanes

    async def lead_lanes(events: list[CloudEvent[Any]]) -> list[list[CloudEvent[Any]]]:
        return split_lanes(events, lambda e: str(e.data.lead_id), lanes)

    async def activity_lanes(events: list[CloudEvent[Any]]) -> list[list[CloudEvent[Any]]]:
        return await handlers.activity_lanes(scoring.db, events, lanes)

    split = lanes > 1
    return [
        BatchSubscription(LEADS_RECEIVED, handlers.on_received, max_records=size,
                          lanes=lead_lanes if split else None),
        BatchSubscription(LEADS_ACTIVITY, handlers.on_activity, max_records=size,
                          lanes=activity_lanes if split else None),
        BatchSubscription(OPPORTUNITIES_CLOSED, handlers.on_opportunity_closed, max_records=size),
        BatchSubscription(LEADS_DISPOSITIONED, handlers.on_dispositioned, max_records=size),
    ]
