"""opportunity's settings (LEADFLOW_* variables)."""

from typing import Literal

from pydantic import Field

from leadflow_shared.settings import LeadflowSettings


class OpportunitySettings(LeadflowSettings):
    customer_mode: Literal["b2b", "b2c"] = Field(
        "b2b", description="b2b: a customer is a company, one per credit code or name and region; b2c: a "
                           "customer is a person, one per mobile.")
    report_timezone: str = Field("Asia/Shanghai", description="The days and months reports count in.")
    projection_batch_size: int = Field(500, ge=1, description="Events the funnel projection applies in one "
                                                               "transaction.")
