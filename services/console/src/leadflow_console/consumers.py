"""console's subscriptions: none. Its pages ask the services' APIs for what is true now, so it keeps no copy
of their events to fall behind on (`Service(uses_kafka=False)`: no consumers, no outbox relay)."""

from __future__ import annotations

from leadflow_console.bootstrap import Console
from leadflow_shared.consumers import AnySubscription


def subscriptions(console: Console) -> list[AnySubscription]:
    return []
