"""scoring's subscriptions: leads, activities and opportunity outcomes, each a batch per transaction."""

from __future__ import annotations

from leadflow_scoring.handlers import ScoringHandlers
from leadflow_shared.consumers import BatchSubscription
from leadflow_shared.contracts import LEADS_ACTIVITY, LEADS_RECEIVED, OPPORTUNITIES_CLOSED
from leadflow_shared.service import Runtime


def subscriptions(runtime: Runtime) -> list[BatchSubscription]:
    handlers: ScoringHandlers = runtime.state["handlers"]
    size = runtime.settings.scoring_batch_max_records  # type: ignore[attr-defined]
    return [
        BatchSubscription(LEADS_RECEIVED, handlers.on_received, max_records=size),
        BatchSubscription(LEADS_ACTIVITY, handlers.on_activity, max_records=size),
        BatchSubscription(OPPORTUNITIES_CLOSED, handlers.on_opportunity_closed, max_records=size),
    ]
