"""assignment's settings (LEADFLOW_* variables)."""

from pydantic import Field

from leadflow_shared.settings import LeadflowSettings


class AssignmentSettings(LeadflowSettings):
    default_pool: str = Field("public", description="Pool (公海) that takes leads no rule routes.")
