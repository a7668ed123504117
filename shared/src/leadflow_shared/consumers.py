"""Idempotent Kafka consumers with bounded retries and dead letters.

A handler is `async def handler(event: CloudEvent[Model], uow: UnitOfWork) -> None`. The event's id is
recorded in the same transaction as the handler's effects, so a redelivery changes nothing. A handler
that keeps failing sends the message, with its error, to `<topic>.dlq`; a malformed message goes there
at once. An outage (Postgres, Temporal away) is no fault of the event: it is retried until it passes,
holding its partition, rather than dead-lettered. The offset is committed only after the transaction
(or the dead letter) is done.

A batch handler (`BatchSubscription`) is `async def handler(events: list[CloudEvent[Model]], uow) -> None`:
it gets the fresh events of a poll, in delivery order (Kafka's order per partition, so per key), and
applies them set-wise in one transaction. When a batch fails through some event's fault, its events are
applied one at a time (each a one-element batch), so the poison goes to the DLQ and the others pass.
A batch subscription with `lanes` splits each poll into groups that touch different rows, applied in
concurrent transactions: one group's Python work runs while another waits on Postgres.
"""

from __future__ import annotations

import asyncio
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
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
from leadflow_shared.metrics import (
    CONSUMER_BATCH_SECONDS,
    CONSUMER_BATCH_SIZE,
    EVENTS_CONSUMED,
    HANDLER_FAILURES,
    HANDLER_SECONDS,
)

Handler = Callable[[CloudEvent[Any], UnitOfWork], Awaitable[None]]
BatchHandler = Callable[[list[CloudEvent[Any]], UnitOfWork], Awaitable[None]]
Lanes = Callable[[list[CloudEvent[Any]]], Awaitable[list[list[CloudEvent[Any]]]]]

log = get_logger(__name__)

MAX_BACKOFF_S = 10.0
# How long a batch subscriber waits for records when its fetch buffer is empty (faststream sleeps as long
# again after an empty poll): the latency an idle topic adds, against smaller batches under load.
BATCH_TIMEOUT_MS = 50


@dataclass(frozen=True)
class Subscription:
    """A service's interest in a topic: which handler applies its events."""

    topic: Topic
    handler: Handler


@dataclass(frozen=True)
class BatchSubscription:
    """A topic whose events are applied a batch (up to max_records of one poll) per transaction."""

    topic: Topic
    handler: BatchHandler
    max_records: int = 500
    # Splits a poll's events into groups applied concurrently, each in its own transaction (see
    # split_lanes). Events that lock the same rows belong in one group: else one group waits for the other.
    lanes: Lanes | None = None
    # How long the broker may hold a fetch to fill a bigger batch (0: answer with whatever is there). For
    # work that costs per call downstream (a workflow start each) and may wait a moment: fewer, fuller batches.
    linger_ms: int = 0


def split_lanes(events: list[CloudEvent[Any]], key: Callable[[CloudEvent[Any]], str], lanes: int
                ) -> list[list[CloudEvent[Any]]]:
    """The events grouped by a stable hash of `key` (what they lock: a lead, a person), each group in
    delivery order; empty groups left out."""
    groups: list[list[CloudEvent[Any]]] = [[] for _ in range(max(1, lanes))]
    for event in events:
        groups[zlib.crc32(key(event).encode()) % len(groups)].append(event)
    return [group for group in groups if group]


AnySubscription = Subscription | BatchSubscription


@dataclass(frozen=True)
class DeliveredMessage:
    """What the consumer needs of a Kafka record, framework-free (and easy to build in tests)."""

    value: bytes
    key: bytes | None
    topic: str
    partition: int
    offset: int


class EventProcessor:
    """Applies delivered messages: parse, dedupe, handle in a transaction, retry, dead-letter."""

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
        event = await self._parse(subscription.topic, message)
        if event is None:
            return "dead_lettered"
        return await self._process_event(subscription.topic.name, subscription.handler, event, message)

    async def process_batch(
        self, subscription: BatchSubscription, messages: Sequence[DeliveredMessage]
    ) -> dict[str, int]:
        """Apply a poll's messages in one transaction (one per lane, concurrently, with `lanes`); returns
        how many events had each outcome.

        An outage is retried, the whole batch, until it passes; any other failure has the batch's events
        applied one at a time, with the retries and dead letters of `process`.
        """
        topic = subscription.topic.name
        outcomes: Counter[str] = Counter()
        parsed: list[tuple[CloudEvent[Any], DeliveredMessage]] = []
        for message in messages:
            event = await self._parse(subscription.topic, message)
            if event is None:
                outcomes["dead_lettered"] += 1
            else:
                parsed.append((event, message))
        if not parsed:
            return dict(outcomes)
        CONSUMER_BATCH_SIZE.labels(self._service, topic).observe(len(parsed))
        groups = await self._lanes(subscription, parsed)
        results = await asyncio.gather(*(self._apply_group(subscription, group) for group in groups),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result  # a dead letter that could not be written: the poll comes again
            outcomes.update(result)
        return dict(outcomes)

    async def _lanes(self, subscription: BatchSubscription, parsed: list[tuple[CloudEvent[Any], DeliveredMessage]]
                     ) -> list[list[tuple[CloudEvent[Any], DeliveredMessage]]]:
        """The poll's events in the groups its lanes make (one group without lanes, or when splitting fails:
        the split is an optimization, the handler's own locks keep the groups correct)."""
        if subscription.lanes is None or len(parsed) < 2:
            return [parsed]
        try:
            groups = await subscription.lanes([event for event, _ in parsed])
        except Exception as exc:
            log.warning("could not split a batch into lanes; applying it whole", topic=subscription.topic.name,
                        error=repr(exc))
            return [parsed]
        message_of = {id(event): message for event, message in parsed}
        split = [id(event) for group in groups for event in group]
        if len(split) != len(parsed) or set(split) != set(message_of):  # every event once, or none is lost
            log.error("lanes lost or repeated events; applying the batch whole", topic=subscription.topic.name)
            return [parsed]
        return [[(event, message_of[id(event)]) for event in group] for group in groups if group]

    async def _apply_group(self, subscription: BatchSubscription,
                           parsed: list[tuple[CloudEvent[Any], DeliveredMessage]]) -> Counter[str]:
        """One transaction for the events, retried while Postgres is away; on any other failure, each event
        in its own transaction (the poison to the DLQ)."""
        topic = subscription.topic.name
        outcomes: Counter[str] = Counter()
        events = [event for event, _ in parsed]
        tries = 0
        while True:
            tries += 1
            started = time.perf_counter()
            try:
                fresh = await self._apply_batch(subscription, events)
            except Exception as exc:
                HANDLER_FAILURES.labels(self._service, topic).inc()
                if not is_transient(exc):
                    log.warning("event batch failed; applying its events one at a time", topic=topic,
                                events=len(events), error=repr(exc))
                    break
                log.warning("event batch failed", topic=topic, events=len(events), transient=True,
                            error=repr(exc))
                await asyncio.sleep(min(self._backoff_s * 2 ** (tries - 1), MAX_BACKOFF_S))
                continue
            elapsed = time.perf_counter() - started
            CONSUMER_BATCH_SECONDS.labels(self._service, topic).observe(elapsed)
            per_event = HANDLER_SECONDS.labels(self._service, topic)
            for _ in events:
                per_event.observe(elapsed / len(events))  # each event's share of the transaction
            outcomes["processed"] += fresh
            outcomes["duplicate"] += len(events) - fresh
            self._count(topic, "processed", fresh)
            self._count(topic, "duplicate", len(events) - fresh)
            return outcomes

        # Isolate the poison: each event in its own transaction, through the same batch handler.
        async def one(event: CloudEvent[Any], uow: UnitOfWork) -> None:
            await subscription.handler([event], uow)

        for event, message in parsed:
            outcomes[await self._process_event(topic, one, event, message)] += 1
        return outcomes

    async def _parse(self, topic: Topic, message: DeliveredMessage) -> CloudEvent[Any] | None:
        """The message's event; None when it was malformed (and has been dead-lettered)."""
        try:
            return parse_event(message.value, topic.data_model)
        except MalformedEvent as exc:
            await self._dead_letter(message, topic.name, exc, 0)
            self._count(topic.name, "dead_lettered")
            return None

    async def _process_event(
        self, topic: str, handler: Handler, event: CloudEvent[Any], message: DeliveredMessage
    ) -> str:
        attempt = 0  # tries that failed through the event's fault
        tries = 0
        while True:
            tries += 1
            started = time.perf_counter()
            try:
                fresh = await self._apply(topic, handler, event)
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

    async def _apply(self, topic: str, handler: Handler, event: CloudEvent[Any]) -> bool:
        async with self._db.uow() as uow:
            if not await uow.mark_processed(event.id, topic):
                return False
            await handler(event, uow)
            await uow.commit()
            return True

    async def _apply_batch(self, subscription: BatchSubscription, events: list[CloudEvent[Any]]) -> int:
        """Apply the events not processed before in one transaction; returns how many that was."""
        async with self._db.uow() as uow:
            fresh_ids = await uow.mark_processed_many([event.id for event in events], subscription.topic.name)
            if not fresh_ids:
                return 0
            fresh: list[CloudEvent[Any]] = []
            for event in events:
                if event.id in fresh_ids:
                    fresh_ids.discard(event.id)  # a copy further on in the same batch is a duplicate
                    fresh.append(event)
            await subscription.handler(fresh, uow)
            await uow.commit()
            return len(fresh)

    def _count(self, topic: str, outcome: str, amount: int = 1) -> str:
        if amount:
            EVENTS_CONSUMED.labels(self._service, topic, outcome).inc(amount)
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


# A replica joining makes each group wait for its members to rejoin, which they do at their next heartbeat
# (aiokafka's default is every 3 s, per group): 1 s lets a new replica start consuming sooner.
GROUP_SETTINGS: dict[str, Any] = {"heartbeat_interval_ms": 1000}


def register_subscriptions(
    broker: KafkaBroker,
    processor: EventProcessor,
    subscriptions: Sequence[AnySubscription],
    *,
    group_id: str,
    topic_prefix: str = "",
) -> None:
    """Attach one faststream subscriber per subscription, each in its own consumer group
    (`<group_id>.<topic>`): a subscriber joining or leaving then never stops the others to rebalance."""
    for subscription in subscriptions:
        group = f"{group_id}.{subscription.topic.name}"
        if isinstance(subscription, BatchSubscription):
            _register_batch(broker, processor, subscription, group, topic_prefix)
        else:
            _register(broker, processor, subscription, group, topic_prefix)


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
        **GROUP_SETTINGS,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,  # only a failed dead letter escapes: redeliver it
        decoder=_raw_body,
        title=group_id,
        description=subscription.topic.description,
    )(consume)


def _register_batch(
    broker: KafkaBroker, processor: EventProcessor, subscription: BatchSubscription, group_id: str,
    prefix: str,
) -> None:
    async def consume(body: list[bytes], msg: KafkaMessage) -> None:
        # A batch's raw message is the tuple of the poll's ConsumerRecords, partition after partition,
        # each partition's in offset order.
        delivered = [
            DeliveredMessage(value=record.value or b"", key=record.key, topic=record.topic,
                             partition=record.partition, offset=record.offset)
            for record in msg.raw_message
        ]
        await processor.process_batch(subscription, delivered)

    consume.__name__ = f"on_{subscription.topic.name.replace('.', '_')}_batch"
    # On success faststream commits the consumer's positions (the whole poll); should a dead letter fail,
    # the nack seeks every partition of the batch back to its first record, and the poll comes again.
    broker.subscriber(
        physical_topic(subscription.topic.name, prefix),
        batch=True,
        max_records=subscription.max_records,
        batch_timeout_ms=BATCH_TIMEOUT_MS,
        **({"fetch_min_bytes": 1 << 20, "fetch_max_wait_ms": subscription.linger_ms} if subscription.linger_ms else {}),
        group_id=group_id,
        **GROUP_SETTINGS,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_raw_bodies,
        title=group_id,
        description=subscription.topic.description,
    )(consume)


async def _raw_body(msg: Any) -> bytes:
    return bytes(msg.body)


async def _raw_bodies(msg: Any) -> list[bytes]:
    # faststream's own batch decoder would re-parse every record and json-decode its body: skip that.
    return list(msg.body)
