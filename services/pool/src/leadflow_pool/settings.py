"""pool's settings (LEADFLOW_* variables)."""

from pydantic import Field

from leadflow_shared.settings import LeadflowSettings


class PoolSettings(LeadflowSettings):
    pool_task_queue: str = Field("leadflow-pool", description="Temporal task queue of pool's workflows.")
    default_pool: str = Field("public", description="Pool (公海) of leads no pool's filter takes, before any "
                                                    "pools document is loaded.")
    business_day_minutes: float | None = Field(
        None, gt=0, description="Demos and trials: a business day lasts this many minutes, every day counting "
                                "(deadlines in minutes instead of days). Unset in production.")
    calendar_refresh_s: float = Field(300, gt=0, description="How often the business-day calendar is re-read.")
    visit_max_travel_kmh: float = Field(300, gt=0, description="A visit check-in further from the rep's previous "
                                        "one than this speed allows is flagged impossible_travel (模拟定位).")
