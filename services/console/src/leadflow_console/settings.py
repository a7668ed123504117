"""console's settings (LEADFLOW_* variables): where the services' APIs are, sessions, sign-in."""

from __future__ import annotations

from pydantic import Field

from leadflow_shared.settings import LeadflowSettings


class ConsoleSettings(LeadflowSettings):
    console_intake_url: str = Field("http://127.0.0.1:8001", description="intake's API (partner submissions).")
    console_scoring_url: str = Field("http://127.0.0.1:8002", description="scoring's API (score explanations).")
    console_assignment_url: str = Field("http://127.0.0.1:8003", description="assignment's API (queues, rules).")
    console_pool_url: str = Field("http://127.0.0.1:8004", description="pool's API (pools, my leads, timeline).")
    console_opportunity_url: str = Field("http://127.0.0.1:8005", description="opportunity's API (conversion, "
                                                                               "stages, funnel).")
    console_notify_url: str = Field("http://127.0.0.1:8007", description="notify's API (my notifications).")
    console_api_timeout_s: float = Field(10.0, gt=0, description="How long a page waits for a service's answer.")
    console_secret: str | None = Field(
        None, description="Signs the CSRF cookie; the same on every replica. Unset: derived from the staff "
                          "signing key when there is one, else random per process (one replica only).")
    console_session_hours: float = Field(8.0, gt=0, le=24 * 30, description="A sign-in lasts this long.")
    console_cookie_secure: bool = Field(False, description="Cookies only over HTTPS (set it behind TLS).")
    console_sign_in_attempts: int = Field(5, ge=1, description="Wrong passwords in a row before a pause.")
    console_lockout_minutes: float = Field(15.0, gt=0, description="The pause after too many wrong passwords.")
    console_oidc_issuer: str | None = Field(
        None, description="The company's OpenID Connect provider (its issuer URL): a 'sign in with' button; "
                          "its tokens must verify under LEADFLOW_STAFF_JWKS_URL like every staff token.")
    console_oidc_client_id: str | None = Field(None, description="The console's client id at the provider.")
    console_oidc_client_secret: str | None = Field(None, description="Its client secret (confidential client).")
    console_oidc_scopes: str = Field("openid profile", description="Scopes asked for.")
    console_oidc_token: str = Field("access_token", pattern="^(access_token|id_token)$",
                                    description="Which token of the provider's answer the services verify.")
    console_public_url: str | None = Field(None, description="The console's own URL as browsers reach it (the "
                                                             "provider's redirect back); default: the request's.")
    console_timezone: str = Field("Asia/Shanghai", description="Where 'due today' is counted.")
