"""opportunity, wired: every lead event in (what conversion needs, and the funnel projection), payments in;
conversion, stages and payments over HTTP; customers.v1, leads.accepted/converted.v1, opportunities.v1 and
opportunities.closed.v1 out (outbox); reports over HTTP."""

from leadflow_opportunity import consumers, db, http, http_reports
from leadflow_opportunity.bootstrap import bootstrap
from leadflow_opportunity.settings import OpportunitySettings
from leadflow_shared.service import Service

service = Service(
    name="opportunity",
    http_port=8005,
    description="converts qualified leads into customers and opportunities, runs them to won and paid, and "
                "reports the funnel",
    metadata=db.metadata,
    settings_class=OpportunitySettings,
    bootstrap=bootstrap,
    subscriptions=consumers.subscriptions,
    controllers=[*http.CONTROLLERS, *http_reports.CONTROLLERS],
    exception_handlers=http.EXCEPTION_HANDLERS,
)
main = service.serve
cli = service.cli()
