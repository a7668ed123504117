"""scoring takes each received lead, scores it and publishes leads.scored.v1."""

from __future__ import annotations

from leadflow_scoring.db import ScoreRepository
from leadflow_scoring.domain.model import baseline_score
from leadflow_shared.consumers import Subscription
from leadflow_shared.contracts import LEADS_RECEIVED, LEADS_SCORED, LeadReceived, LeadScored, ScoreFactor
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent


async def on_lead_received(event: CloudEvent[LeadReceived], uow: UnitOfWork) -> None:
    received = event.data
    score = baseline_score()
    await ScoreRepository(uow.session).save(received.lead_id, received.lead.model_dump(mode="json"), score)
    await uow.publish(
        LEADS_SCORED,
        received.lead_id,
        LeadScored(
            lead_id=received.lead_id, score=score.points, grade=score.grade, stage=score.stage,
            explanation=[ScoreFactor(rule=rule, points=points) for rule, points in score.factors],
            rules_version=score.rules_version, company_id=received.company_id,
            customer_id=received.customer_id, lead=received.lead,
        ),
    )


subscriptions = [Subscription(LEADS_RECEIVED, on_lead_received)]
