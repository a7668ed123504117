"""The same infrastructure from testcontainers, for machines where a Docker engine answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, ExitStack

from leadflow_localstack.testing import Infra


@contextmanager
def container_infra() -> Iterator[Infra]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with ExitStack() as stack:
        postgres = stack.enter_context(
            PostgresContainer("postgres:15", username="leadflow", password="leadflow", dbname="leadflow",
                              driver="asyncpg")
        )
        kafka = stack.enter_context(KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft())
        temporal = stack.enter_context(
            DockerContainer("temporalio/temporal:1.4.1")
            .with_command("server start-dev --ip 0.0.0.0 --headless")
            .with_exposed_ports(7233)
        )
        wait_for_logs(temporal, "Temporal Server", timeout=120)
        yield Infra(
            pg_dsn=postgres.get_connection_url(),
            kafka_bootstrap=kafka.get_bootstrap_server(),
            temporal_address=f"{temporal.get_container_host_ip()}:{temporal.get_exposed_port(7233)}",
            provider="testcontainers",
        )
