"""scoring, wired: leads.received.v1 in, leads.scored.v1 out (through the outbox), scores over HTTP."""

from leadflow_scoring import consumers, db, http
from leadflow_scoring.settings import ScoringSettings
from leadflow_shared.service import Service

service = Service(
    name="scoring",
    http_port=8002,
    description="enriches, scores and qualifies leads",
    metadata=db.metadata,
    controllers=[http.ScoreController],
    subscriptions=consumers.subscriptions,
    settings_class=ScoringSettings,
)
main = service.serve
cli = service.cli()
