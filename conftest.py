"""Fixtures for every test: real Postgres, Kafka and Temporal (see leadflow_localstack.testing)."""

pytest_plugins = ["leadflow_localstack.testing"]
