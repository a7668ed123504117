"""Idempotent Kafka consumers with bounded retries and dead letters.

A handler is `async def handler(event: CloudEvent[Model], uow: UnitOfWork) -> None`. The event's id is
recorded in the same transaction as the handler's effects, so a redelivery changes nothing. A handler
that keeps failing sends the message, with its error, to `<topic>.dlq`; a malformed message goes there
at once. An outage (Postgres, Temporal away) is no fault of the event: it is retried until it passes,
holding its partition, rather than dead-lettered. The offset is committed only after the transaction
(or the dead letter) is done.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from leadflow_shared.contracts import Topic
from leadflow_shared.db import Database, UnitOfWork
from leadflow_shared.errors import is_transient
from leadflow_shared.events import CloudEvent, MalformedEvent, parse_event
from leadflow_shared.kafka import physical_topic
from leadflow_shared.logging import get_logger
from leadflow_shared.metrics import EVENTS_CONSUMED, HANDLER_FAILURES, HANDLER_SECONDS

Handler = Callable[[CloudEvent[Any], UnitOfWork], Awaitable[None]]

log = get_logger(__name__)

MAX_BACKOFF_S = 10.0


@dataclass(frozen=True)
class Subscription:
    """A service's interest in a topic: which handler applies its events."""

    topic: Topic
    handler: Handler


@dataclass(frozen=True)
class DeliveredMessage:
    """What the consumer needs of a Kafka record, framework-free (and easy to build in tests)."""

    value: bytes
    key: bytes | None
    topic: str
    partition: int
    offset: int


class EventProcessor:
    """Applies one delivered message: parse, dedupe, handle in a transaction, retry, dead-letter."""

    def __init__(
        self,
        service: str,
        db: Database,
        dead_letter: Callable[[DeliveredMessage, str, BaseException, int], Awaitable[None]],
        *,
        max_attempts: int = 3,
        backoff_s: float = 0.2,
    ) -> None:
        self._service = service
        self._db = db
        self._dead_letter = dead_letter
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s

    async def process(self, subscription: Subscription, message: DeliveredMessage) -> str:
        """Returns the outcome: processed, duplicate or dead_lettered."""
        topic = subscription.topic.name
        try:
            event = parse_event(message.value, subscription.topic.data_model)
        except MalformedEvent as exc:
            await self._dead_letter(message, topic, exc, 0)
            return self._count(topic, "dead_lettered")
        attempt = 0  # tries that failed through the event's fault
        tries = 0
        while True:
            tries += 1
            started = time.perf_counter()
            try:
                fresh = await self._apply(subscription, event)
                HANDLER_SECONDS.labels(self._service, topic).observe(time.perf_counter() - started)
                return self._count(topic, "processed" if fresh else "duplicate")
            except Exception as exc:
                HANDLER_FAILURES.labels(self._service, topic).inc()
                transient = is_transient(exc)
                attempt += 0 if transient else 1
                log.warning("event handler failed", topic=topic, event_id=str(event.id), attempt=attempt,
                            transient=transient, error=repr(exc))
                if attempt >= self._max_attempts:
                    await self._dead_letter(message, topic, exc, attempt)
                    return self._count(topic, "dead_lettered")
                await asyncio.sleep(min(self._backoff_s * 2 ** (tries - 1), MAX_BACKOFF_S))

    async def _apply(self, subscription: Subscription, event: CloudEvent[Any]) -> bool:
        async with self._db.uow() as uow:
            if not await uow.mark_processed(event.id, subscription.topic.name):
                return False
            await subscription.handler(event, uow)
            await uow.commit()
            return True

    def _count(self, topic: str, outcome: str) -> str:
        EVENTS_CONSUMED.labels(self._service, topic, outcome).inc()
        return outcome


def dead_letter_headers(message: DeliveredMessage, service: str, error: BaseException, attempts: int) -> dict[str, str]:
    return {
        "x-leadflow-error": str(error)[:4000],
        "x-leadflow-error-type": type(error).__name__,
        "x-leadflow-error-trace": "".join(traceback.format_exception(error))[-4000:],
        "x-leadflow-original-topic": message.topic,
        "x-leadflow-original-partition": str(message.partition),
        "x-leadflow-original-offset": str(message.offset),
        "x-leadflow-consumer": service,
        "x-leadflow-attempts": str(attempts),
    }


def register_subscriptions(
    broker: KafkaBroker,
    processor: EventProcessor,
    subscriptions: list[Subscription],
    *,
    group_id: str,
    topic_prefix: str = "",
) -> None:
    """Attach one faststream subscriber per subscription, sharing the service's consumer group."""
    for subscription in subscriptions:
        _register(broker, processor, subscription, group_id, topic_prefix)


def _register(
    broker: KafkaBroker, processor: EventProcessor, subscription: Subscription, group_id: str, prefix: str
) -> None:
    async def consume(body: bytes, msg: KafkaMessage) -> None:
        record = msg.raw_message
        delivered = DeliveredMessage(
            value=record.value or b"",
            key=record.key,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        await processor.process(subscription, delivered)

    consume.__name__ = f"on_{subscription.topic.name.replace('.', '_')}"
    # The body stays raw bytes whatever its content type: parsing (and refusing) is ours to do.
    broker.subscriber(
        physical_topic(subscription.topic.name, prefix),
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,  # only a failed dead letter escapes: redeliver it
        decoder=_raw_body,
        title=f"{group_id}:{subscription.topic.name}",
        description=subscription.topic.description,
    )(consume)


async def _raw_body(msg: Any) -> bytes:
    return bytes(msg.body)
