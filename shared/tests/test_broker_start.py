"""A service's subscribers start side by side: each waits for its consumer group's assignment, which takes a
rebalance when a replica joins; one after another, a second replica was not ready for half a minute."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from leadflow_shared.service import _start_broker


class _Subscriber:
    def __init__(self, everyone: asyncio.Barrier) -> None:
        self._everyone = everyone
        self.started = False

    async def start(self) -> None:
        # Returns only once every subscriber is starting: started one after another, the first waits forever.
        await asyncio.wait_for(self._everyone.wait(), timeout=5)
        self.started = True


class _Publisher:
    def __init__(self) -> None:
        self.started = False

    async def start(self) -> None:
        self.started = True


async def test_every_subscriber_of_a_service_waits_for_its_group_at_the_same_time() -> None:
    barrier = asyncio.Barrier(10)
    subscribers, publishers, connected = [_Subscriber(barrier) for _ in range(10)], [_Publisher()], []

    async def connect() -> None:
        connected.append(True)

    broker = SimpleNamespace(connect=connect, subscribers=subscribers, publishers=publishers, running=False)
    await _start_broker(broker)  # type: ignore[arg-type]
    assert connected and broker.running
    assert all(s.started for s in subscribers) and all(p.started for p in publishers)
