"""notify's Prometheus metrics (served at /metrics with the platform's)."""

from prometheus_client import Counter, Histogram

QUEUED = Counter("leadflow_notify_queued_total", "Messages queued, by kind and channel.", ["kind", "channel"])
SENT = Counter("leadflow_notify_sent_total", "Messages a channel took, by channel.", ["channel"])
FAILED = Counter("leadflow_notify_failed_total",
                 "Messages given up on (every try failed, or nowhere left to send them), by channel.", ["channel"])
TRY_FAILURES = Counter("leadflow_notify_try_failures_total", "Tries that failed (retried or not), by channel.",
                       ["channel"])
SEND_SECONDS = Histogram("leadflow_notify_send_seconds", "Time of one try, by channel.", ["channel"])
