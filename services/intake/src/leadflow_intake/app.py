"""intake, wired: partners' HTTP API in, leads.received.v1 out (through the outbox), status events in."""

from disposable_email_domains import blocklist as disposable_domains
from litestar.exceptions import ValidationException

from leadflow_intake import consumers, db, http
from leadflow_intake.cli import blocklist_app
from leadflow_intake.domain.lead import clean
from leadflow_intake.domain.risk import RiskPolicy
from leadflow_intake.group_commit import GroupCommitter
from leadflow_intake.handlers import SubmissionPipeline
from leadflow_intake.imports import ImportWorker
from leadflow_intake.partners import KeyCache, PartnerRateLimiter
from leadflow_intake.settings import IntakeSettings
from leadflow_shared.service import Runtime, Service


def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, IntakeSettings)
    runtime.state["pipeline"] = pipeline = SubmissionPipeline(RiskPolicy(
        burst_window_s=settings.intake_burst_window_s,
        max_per_ip=settings.intake_max_leads_per_ip,
        max_per_device=settings.intake_max_leads_per_device,
        disposable_domains=frozenset(disposable_domains) if settings.intake_flag_disposable_email else frozenset(),
    ))
    clean({"mobile": "+86 138 0013 8000", "name": "張偉", "company_name": "上海示例科技有限公司"})  # load the
    # phone metadata and OpenCC dictionaries now, not in the first partner's request
    runtime.state["group_committer"] = GroupCommitter(runtime.db, pipeline)
    runtime.state["rate_limiter"] = PartnerRateLimiter()
    runtime.state["key_cache"] = KeyCache(settings.intake_auth_cache_s)


service = Service(
    name="intake",
    http_port=8001,
    description="validates, normalizes, dedupes and records partner submissions",
    metadata=db.metadata,
    controllers=[http.LeadController, http.ImportController],
    subscriptions=consumers.subscriptions,
    components=[ImportWorker],
    settings_class=IntakeSettings,
    setup=setup,
    exception_handlers={ValidationException: http.validation_problem},
)
main = service.serve
cli = service.cli()
cli.add_typer(blocklist_app, name="blocklist")
