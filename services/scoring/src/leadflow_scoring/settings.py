"""scoring's settings (LEADFLOW_* variables)."""

from pydantic import Field

from leadflow_shared.settings import LeadflowSettings


class ScoringSettings(LeadflowSettings):
    scoring_rules_file: str | None = Field(
        None, description="YAML rules activated at first start when none are active yet (default: the built-in rules).")
    scoring_watch_interval_s: float = Field(
        5.0, gt=0, description="How often a replica looks for newly activated rules or model (hot swap).")
    scoring_rescore_interval_s: float = Field(
        3600.0, gt=0, description="How often leads are re-scored so that decay shows (养鱼: quiet leads sink).")
    scoring_rescore_batch: int = Field(500, ge=1, description="Leads re-scored per transaction by the periodic job.")
    scoring_waiting_retention_days: float = Field(
        180.0, ge=0, description="How long an activity waits for its lead (a visitor who never becomes one) "
                                 "before it is deleted; 0: kept for ever.")
    scoring_batch_max_records: int = Field(1000, ge=1, description="Events applied per transaction by a consumer.")
    scoring_lanes: int = Field(
        2, ge=1, description="Transactions a consumer applies a poll in, side by side (its events split by lead).")
    scoring_auth_cache_s: float = Field(2.0, ge=0, description="How long a checked API key is trusted.")
