"""pool, wired: leads.received/scored/assigned/pooled/converted.v1 in; ownership workflows on Temporal;
leads.claimed/released/transferred/recycled.v1 and reminders out (outbox)."""

from leadflow_pool import cli as pool_cli
from leadflow_pool import consumers, db, http, http_reports, http_work
from leadflow_pool.bootstrap import bootstrap
from leadflow_pool.settings import PoolSettings
from leadflow_shared.service import Service

service = Service(
    name="pool",
    http_port=8004,
    description="public pools (公海): claims, releases, transfers, follow-ups and deadlines on Temporal",
    metadata=db.metadata,
    settings_class=PoolSettings,
    bootstrap=bootstrap,
    subscriptions=consumers.subscriptions,
    controllers=[*http.CONTROLLERS, *http_work.CONTROLLERS, http_reports.ReportController],
    exception_handlers={**http.EXCEPTION_HANDLERS, **http_work.EXCEPTION_HANDLERS},
)
main = service.serve
cli = service.cli()
pools_cli = pool_cli.pools_app  # `leadflow pools …`
