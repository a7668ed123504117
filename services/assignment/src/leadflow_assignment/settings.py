"""assignment's settings (LEADFLOW_* variables)."""

from pydantic import Field

from leadflow_shared.settings import LeadflowSettings


class AssignmentSettings(LeadflowSettings):
    default_pool: str = Field("public", description="Pool (公海) that takes leads no rule routes.")
    route_stages: list[str] = Field(["mql"], description="Scoring stages that route a lead (its first score at "
                                                         "one of them); nurture leads wait, disqualified never go.")
    reassign_recycled: bool = Field(True, description="A recycled lead is decided again by the rules (二次分配), "
                                                      "excluding its previous owners; false: it stays in its pool.")
    business_timezone: str = Field("Asia/Shanghai", description="Where a day begins, for new leads a day.")
    conversion_prior_weight: float = Field(20.0, ge=0, description="Leads' worth of the team's rate a rep's measured "
                                                                   "conversion starts from (a new rep is not starved).")
    conversion_refresh_s: float = Field(60.0, gt=0, description="How often measured conversion is read again.")
    route_batch_size: int = Field(1000, ge=1, description="Scored events routed in one transaction.")
