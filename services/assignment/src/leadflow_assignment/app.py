"""assignment, wired: leads.scored.v1 in, leads.assigned.v1 out (through the outbox)."""

from leadflow_assignment import consumers, db, http
from leadflow_assignment.bootstrap import bootstrap
from leadflow_assignment.settings import AssignmentSettings
from leadflow_shared.service import Service

service = Service(
    name="assignment",
    http_port=8003,
    description="routes each lead to a rep, a queue or a pool",
    metadata=db.metadata,
    settings_class=AssignmentSettings,
    bootstrap=bootstrap,
    subscriptions=consumers.subscriptions,
    controllers=[http.AssignmentController],
)
main = service.serve
cli = service.cli()
