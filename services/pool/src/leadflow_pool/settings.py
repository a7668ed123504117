"""pool's settings (LEADFLOW_* variables)."""

from pydantic import Field

from leadflow_shared.settings import LeadflowSettings


class PoolSettings(LeadflowSettings):
    pool_task_queue: str = Field("leadflow-pool", description="Temporal task queue of pool's workflows.")
    temporal_worker: bool = Field(
        True, description="Run the Temporal worker in the service process. Off: the process only starts and "
                          "signals workflows, and `python -m leadflow_pool.worker` runs them (scaled apart, "
                          "and the API's latency is not the workflows' CPU).")
    default_pool: str = Field("public", description="Pool (公海) of leads no pool's filter takes, before any "
                                                    "pools document is loaded.")
    pool_lanes: int = Field(4, ge=1, description="Transactions applying a batch of ownership events at once, "
                                                 "split by lead: one's database work overlaps another's workflow "
                                                 "starts on Temporal.")
    business_day_minutes: float | None = Field(
        None, gt=0, description="Demos and trials: a business day lasts this many minutes, every day counting "
                                "(deadlines in minutes instead of days). Unset in production.")
    calendar_refresh_s: float = Field(300, gt=0, description="How often the business-day calendar is re-read.")
    collusion_handover_hours: float = Field(
        72, gt=0, description="串通: a claim this soon after another rep dropped the lead is a handover.")
    collusion_min_handovers: int = Field(
        3, ge=1, description="串通: handovers from one rep to the same other within the window that flag the pair.")
    collusion_window_days: int = Field(30, ge=1, description="串通: how far back handovers are counted.")
    collusion_scan_s: float = Field(60, gt=0, description="How often the ownership history is scanned for "
                                                          "collusion (by one replica at a time).")
    reactivation_enabled: bool = Field(
        True, description="库存线索激活: make (or update) the reactivation schedule at start. Off for throwaway "
                          "environments (tests), whose schedules would outlive them.")
    reactivation_interval_s: float = Field(
        3600, gt=0, description="库存线索激活: how often the reactivation schedule looks for idle leads.")
    reactivation_idle_days: int = Field(
        30, ge=1, description="库存线索激活: a lead in a pool this many days untouched is a candidate.")
    reactivation_min_interval_days: int = Field(
        30, ge=1, description="库存线索激活: a lead is offered to marketing at most once in this many days.")
    reactivation_daily_cap: int = Field(
        500, ge=0, description="库存线索激活: candidates per day (Beijing date) at most.")
    visit_max_travel_kmh: float = Field(300, gt=0, description="A visit check-in further from the rep's previous "
                                        "one than this speed allows is flagged impossible_travel (模拟定位).")
