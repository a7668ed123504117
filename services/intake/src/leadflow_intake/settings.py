"""intake's settings (LEADFLOW_* variables): risk thresholds, partner defaults, import limits."""

from pydantic import Field

from leadflow_shared.settings import LeadflowSettings


class IntakeSettings(LeadflowSettings):
    intake_burst_window_s: int = Field(600, ge=1, description="Window in which one visitor's leads are counted.")
    intake_max_leads_per_ip: int = Field(20, ge=1, description="More leads from one client_ip in the window: flagged.")
    intake_max_leads_per_device: int = Field(5, ge=1, description="More from one device_id in the window: flagged.")
    intake_flag_disposable_email: bool = Field(True, description="Flag leads whose e-mail domain is disposable.")
    intake_auth_cache_s: float = Field(2.0, ge=0, description="How long a checked API key is trusted without "
                                       "asking the database; a revoked key stops working within it (0: always ask).")
    intake_default_partner_rate: float = Field(20.0, gt=0, description="Requests per second of a new partner.")
    intake_batch_max: int = Field(1000, ge=1, le=5000, description="Leads in one POST /v1/leads/batch.")
    intake_import_max_bytes: int = Field(20 * 2**20, description="Largest CSV/XLSX a bulk import takes.")
    intake_import_chunk: int = Field(500, ge=1, description="Rows an import commits at a time (its resume point).")
