"""intake's container: what its handlers need, built once per process by `bootstrap`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from disposable_email_domains import blocklist as disposable_domains

from leadflow_intake.domain.lead import clean
from leadflow_intake.domain.risk import RiskPolicy
from leadflow_intake.group_commit import GroupCommitter
from leadflow_intake.handlers import SubmissionPipeline
from leadflow_intake.imports import ImportWorker
from leadflow_intake.partners import KeyCache, Partner, PartnerRateLimiter
from leadflow_intake.settings import IntakeSettings
from leadflow_shared.db import Database
from leadflow_shared.service import Component, Container


@dataclass
class Intake(Container[IntakeSettings]):
    """intake's settings, database and parts: the submission pipeline (and its group commit for single
    posts), partners' keys and rates, and the bulk-import worker."""

    pipeline: SubmissionPipeline
    group_committer: GroupCommitter
    rate_limiter: PartnerRateLimiter
    key_cache: KeyCache[Partner]
    imports: ImportWorker

    def components(self) -> Sequence[Component]:
        return (self.imports,)


def bootstrap(settings: IntakeSettings, db: Database, *, risk: RiskPolicy | None = None,
              rate_limiter: PartnerRateLimiter | None = None) -> Intake:
    pipeline = SubmissionPipeline(risk or risk_policy(settings))
    # The phone metadata and OpenCC dictionaries load now, not in the first partner's request.
    clean({"mobile": "+86 138 0013 8000", "name": "張偉", "company_name": "上海示例科技有限公司"})
    return Intake(
        settings, db, pipeline=pipeline, group_committer=GroupCommitter(db, pipeline),
        rate_limiter=rate_limiter or PartnerRateLimiter(), key_cache=KeyCache(settings.intake_auth_cache_s),
        imports=ImportWorker(db, pipeline, chunk=settings.intake_import_chunk),
    )


def risk_policy(settings: IntakeSettings) -> RiskPolicy:
    return RiskPolicy(
        burst_window_s=settings.intake_burst_window_s,
        max_per_ip=settings.intake_max_leads_per_ip,
        max_per_device=settings.intake_max_leads_per_device,
        disposable_domains=frozenset(disposable_domains) if settings.intake_flag_disposable_email else frozenset(),
    )
