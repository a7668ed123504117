"""scoring's settings (LEADFLOW_* variables)."""

from leadflow_shared.settings import LeadflowSettings


class ScoringSettings(LeadflowSettings):
    pass
