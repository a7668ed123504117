"""pool's settings (LEADFLOW_* variables)."""

from pydantic import Field

from leadflow_shared.settings import LeadflowSettings


class PoolSettings(LeadflowSettings):
    pool_task_queue: str = Field("leadflow-pool", description="Temporal task queue of pool's workflows.")
    follow_up_business_days: int = Field(3, ge=1, description="Business days an owner has to follow up.")
    default_pool: str = Field("public", description="Pool (公海) that recycled leads return to.")
