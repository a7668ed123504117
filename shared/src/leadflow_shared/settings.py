"""Settings read from `LEADFLOW_*` environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_PG_DSN = "postgresql+asyncpg://leadflow:leadflow@127.0.0.1:5432/leadflow"
# Staff tokens are signed by a private key and verified by its public key: never a shared secret (HS*), never
# "none". Pinning the list also stops a token from choosing how it is checked (algorithm confusion).
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class LeadflowSettings(BaseSettings):
    """What every service needs to find its infrastructure and behave in production."""

    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", env_file=".env", extra="ignore")

    pg_dsn: str = Field(DEFAULT_PG_DSN, description="SQLAlchemy URL of PostgreSQL (asyncpg driver).")
    pg_pool_size: int = Field(10, description="Connections kept open per service process.")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    kafka_topic_partitions: int = Field(6, description="Partitions of topics the local stack creates.")
    kafka_topic_replication: int = Field(1, description="Replication factor of topics leadflow creates.")
    kafka_topic_prefix: str = Field("", description="Prefix of every topic name, to share a cluster.")
    kafka_group_prefix: str = Field("leadflow", description="Consumer groups are <prefix>-<service>.")
    temporal_address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    temporal_namespace: str = Field("default")
    http_host: str = Field("127.0.0.1", description="Address the HTTP API binds to.")
    http_port: int | None = Field(None, description="HTTP port; each service has its own default.")
    http_workers: int = Field(1, ge=1, description="Worker processes serving HTTP (each with its consumers).")
    http_keepalive_s: int = Field(30, description="Idle keep-alive of client connections (above a load balancer's).")
    log_level: str = Field("INFO")
    log_json: bool = Field(True, description="JSON log lines (false: human-readable console).")
    migrate_on_start: bool = Field(False, description="Apply the service's migrations at start-up.")
    consumer_max_attempts: int = Field(3, ge=1, description="Tries of a failing handler before its DLQ.")
    consumer_retry_backoff_s: float = Field(0.2, ge=0, description="First retry delay; doubles each try.")
    outbox_batch_size: int = Field(2000, ge=1, description="Events a relay round reads and sends: a round waits "
                                                           "for a few turns of a busy event loop, so large "
                                                           "rounds keep up with the writers.")
    outbox_poll_interval_s: float = Field(0.5, gt=0, description="Relay's idle poll; commits wake it sooner.")
    outbox_linger_s: float = Field(0.01, ge=0, description="Relay's wait after a commit wakes it, so that the "
                                                            "events of concurrent requests go in one round.")
    processed_retention_days: float = Field(
        30.0, gt=0, description="How long a consumed event's id is kept to refuse its redelivery; keep it longer "
                                "than the topics' retention (a replay from older offsets would apply again).")
    shutdown_grace_s: float = Field(15.0, description="Time in-flight work gets to finish on SIGTERM.")

    # ---- staff identity (shared/staff.py): JWT bearer tokens of reps, SDRs, managers and admins ----------
    staff_issuer: str = Field("leadflow", description="`iss` a staff token must carry (an identity provider's "
                                                      "issuer URL when it signs the tokens).")
    staff_audience: str = Field("leadflow", description="`aud` a staff token must carry.")
    staff_jwks_url: str | None = Field(
        None, description="JWKS URL of the company's OIDC identity provider: its keys verify staff tokens "
                          "(cached; a token naming an unknown `kid` fetches the set again).")
    staff_jwks_cache_s: float = Field(300.0, gt=0, description="How long a fetched JWK set is used before "
                                                              "it is fetched again.")
    staff_jwks_min_refetch_s: float = Field(
        30.0, ge=0, description="Least time between two fetches caused by unknown `kid`s, so that tokens with "
                                "made-up key ids cannot hammer the identity provider.")
    staff_public_key_file: Path | None = Field(
        None, description="PEM public key (RSA or EC) that verifies staff tokens.")
    staff_signing_key_file: Path | None = Field(
        None, description="PEM private key that `leadflow staff token` signs with (the local stack makes "
                          "one); its public key verifies tokens too.")
    staff_algorithms: Annotated[tuple[str, ...], NoDecode] = Field(
        ("RS256", "ES256"), description="Signing algorithms accepted (comma separated); asymmetric ones only.")
    staff_leeway_s: float = Field(30.0, ge=0, description="Clock skew tolerated on `exp`, `nbf` and `iat`.")
    staff_roles_claim: str = Field("roles", description="Claim holding the roles (rep, sdr, manager, admin): a "
                                                        "list or a space separated string; a dotted path such "
                                                        "as `realm_access.roles` reaches into an object.")
    staff_teams_claim: str = Field("teams", description="Claim holding the ids of the teams a person belongs "
                                                        "to or manages (same forms as the roles).")
    staff_name_claim: str = Field("name", description="Claim holding the display name (else "
                                                      "`preferred_username`).")

    @field_validator("staff_jwks_url", "staff_public_key_file", "staff_signing_key_file", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("staff_algorithms", mode="before")
    @classmethod
    def _algorithms(cls, value: Any) -> Any:
        names = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
        names = [n for n in names if n]
        refused = [n for n in names if n not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise ValueError(f"{', '.join(refused)} not accepted: staff tokens use one of "
                             f"{', '.join(ASYMMETRIC_ALGORITHMS)} (no shared secrets, never none)")
        if not names:
            raise ValueError("at least one algorithm")
        return tuple(names)
