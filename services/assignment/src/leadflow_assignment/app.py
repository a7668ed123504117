"""assignment, wired: leads.scored.v1 in; leads.assigned.v1, leads.pooled.v1 and leads.queued.v1 out (outbox)."""

from leadflow_assignment import cli as assignment_cli
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
    controllers=http.CONTROLLERS,
    exception_handlers=dict(http.EXCEPTION_HANDLERS),
    custom_plans=True,  # its statements carry batches
)
main = service.serve
cli = service.cli()
cli.add_typer(assignment_cli.rules_app, name="rules")
cli.command("simulate")(assignment_cli.simulate)
org_cli = assignment_cli.org_app  # `leadflow org …`
