"""leadflow's shared package: event contracts and the plumbing every service is built from.

A service is declared once (see `service.Service`) and gets, from here: settings, JSON logs with
contacts masked, a Postgres engine and unit of work with a transactional outbox, idempotent Kafka
consumers with dead letters, health and metrics endpoints, migrations and a CLI.
"""
