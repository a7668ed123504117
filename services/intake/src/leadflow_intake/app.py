"""intake, wired: HTTP in, leads.received.v1 out (through the outbox), status events in."""

from leadflow_intake import consumers, db, http
from leadflow_intake.settings import IntakeSettings
from leadflow_shared.service import Service

service = Service(
    name="intake",
    http_port=8001,
    description="validates, normalizes, dedupes and records partner submissions",
    metadata=db.metadata,
    controllers=[http.LeadController],
    subscriptions=consumers.subscriptions,
    settings_class=IntakeSettings,
)
main = service.serve
cli = service.cli()
