"""intake's container: built once by `bootstrap` from the settings, with parts a test may give instead."""

from __future__ import annotations

from typing import Any

from leadflow_intake.bootstrap import bootstrap
from leadflow_intake.db import metadata
from leadflow_intake.domain.risk import RiskPolicy
from leadflow_intake.partners import PartnerRateLimiter
from leadflow_intake.settings import IntakeSettings
from leadflow_shared.db import Database

NOWHERE = "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # nothing connects while the container is built


def _settings(**values: Any) -> IntakeSettings:
    return IntakeSettings(pg_dsn=NOWHERE, **values)


def test_the_parts_come_from_the_settings_and_share_one_pipeline() -> None:
    settings = _settings(intake_max_leads_per_device=2, intake_flag_disposable_email=False, intake_import_chunk=7)
    db = Database(NOWHERE, metadata, "/test")
    intake = bootstrap(settings, db)
    assert (intake.pipeline.policy.max_per_device, intake.pipeline.policy.disposable_domains) == (2, frozenset())
    assert intake.imports.pipeline is intake.pipeline and intake.imports.chunk == 7
    assert intake.group_committer._pipeline is intake.pipeline
    assert intake.db is db and intake.imports.db is db
    assert intake.components() == (intake.imports,)


def test_a_test_gives_parts_of_its_own() -> None:
    risk, limiter = RiskPolicy(max_per_ip=1), PartnerRateLimiter(clock=lambda: 0.0)
    intake = bootstrap(_settings(), Database(NOWHERE, metadata, "/test"), risk=risk, rate_limiter=limiter)
    assert intake.pipeline.policy is risk and intake.rate_limiter is limiter
