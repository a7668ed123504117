"""Settings read from `LEADFLOW_*` environment variables (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PG_DSN = "postgresql+asyncpg://leadflow:leadflow@127.0.0.1:5432/leadflow"


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
