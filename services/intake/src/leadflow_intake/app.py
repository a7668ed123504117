"""intake, wired: partners' HTTP API in, leads.received.v1 out (through the outbox), status events in."""

from litestar.exceptions import ValidationException

from leadflow_intake import consumers, db, http
from leadflow_intake.bootstrap import bootstrap
from leadflow_intake.cli import blocklist_app, dedupe_eval
from leadflow_intake.settings import IntakeSettings
from leadflow_shared.service import Service

service = Service(
    name="intake",
    http_port=8001,
    description="validates, normalizes, dedupes and records partner submissions",
    metadata=db.metadata,
    settings_class=IntakeSettings,
    bootstrap=bootstrap,
    subscriptions=consumers.subscriptions,
    controllers=[http.LeadController, http.ImportController, http.SubmissionReportController],
    exception_handlers={ValidationException: http.validation_problem},
    custom_plans=True,  # its statements carry batches
)
main = service.serve
cli = service.cli()
cli.add_typer(blocklist_app, name="blocklist")
cli.command("dedupe-eval")(dedupe_eval)
