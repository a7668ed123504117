"""Prometheus metrics of the plumbing, labelled by service (served at /metrics by every service)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "leadflow_events_consumed_total",
    "Events taken from Kafka, by outcome: processed, duplicate (redelivery), dead_lettered.",
    ["service", "topic", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "leadflow_event_handler_seconds", "Time to handle one event, transaction included.", ["service", "topic"]
)
HANDLER_FAILURES = Counter(
    "leadflow_event_handler_failures_total", "Failed tries of an event handler.", ["service", "topic"]
)
CONSUMER_BATCH_SIZE = Histogram(
    "leadflow_consumer_batch_size",
    "Well-formed events in each batch a batch consumer applied (duplicates included).",
    ["service", "topic"], buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
CONSUMER_BATCH_SECONDS = Histogram(
    "leadflow_consumer_batch_seconds", "Time to apply one batch of events, transaction included.",
    ["service", "topic"],
)
OUTBOX_PUBLISHED = Counter(
    "leadflow_outbox_published_total", "Events the outbox relay delivered to Kafka.", ["service", "topic"]
)
OUTBOX_PENDING = Gauge("leadflow_outbox_pending", "Outbox events not yet delivered to Kafka.", ["service"])
OUTBOX_PARKED = Counter(
    "leadflow_outbox_parked_total", "Outbox events Kafka refused for good (too large...), kept with their error.",
    ["service", "topic"],
)
OUTBOX_FAILURES = Counter(
    "leadflow_outbox_relay_failures_total", "Relay rounds that failed (Kafka or Postgres away).", ["service"]
)
