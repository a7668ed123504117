"""Kafka plumbing: the broker (idempotent producer, acks=all), topic names and topic creation."""

from __future__ import annotations

import logging
from functools import lru_cache

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner, murmur2
from faststream.kafka import KafkaBroker

from leadflow_shared.contracts import all_topic_names


def make_broker(bootstrap: str, client_id: str, *, graceful_timeout: float = 15.0) -> KafkaBroker:
    """A broker whose producer neither loses (acks=all) nor duplicates (idempotence) on retries."""
    return KafkaBroker(
        bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        allow_auto_create_topics=False,  # topics are made by ensure_topics, with the right partitions
        graceful_timeout=graceful_timeout,
        logger=logging.getLogger(f"leadflow.{client_id}.kafka"),
        log_level=logging.DEBUG,
    )


# The relay hands the producer a whole round of events at once: batches of 512 KiB carry them in a few
# requests per partition, where aiokafka's default 16 KiB would send one request per handful of events.
RELAY_BATCH_BYTES = 512 * 1024


def make_relay_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    """The outbox relay's own producer, with the broker's guarantees (acks=all, idempotence) and no
    framework between the stored bytes and Kafka."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=f"{client_id}-relay",
        acks="all",
        enable_idempotence=True,
        max_batch_size=RELAY_BATCH_BYTES,
        partitioner=key_partitioner,
    )


def key_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default partitioning (murmur2 of the key, as the Java client does), each key's hash
    remembered: a lead's events repeat its key, and aiokafka's murmur2 is pure Python (2% of scoring)."""
    if key is None:
        return DefaultPartitioner()(key, all_partitions, available)  # type: ignore[no-any-return]
    return all_partitions[_key_hash(key) % len(all_partitions)]


@lru_cache(maxsize=65536)
def _key_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF  # type: ignore[no-any-return]


def physical_topic(name: str, prefix: str = "") -> str:
    """Topic name on the cluster: a prefix lets several leadflow installs share one cluster."""
    return f"{prefix}{name}"


async def ensure_topics(
    bootstrap: str, *, prefix: str = "", partitions: int = 6, replication: int = 1
) -> list[str]:
    """Create every contract topic and its DLQ twin; existing ones are left as they are."""
    names = [physical_topic(n, prefix) for n in all_topic_names()]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(n, num_partitions=partitions, replication_factor=replication) for n in missing]
            )
            # Errors come back per topic, not raised; "already exists" means a concurrent start won.
            failures = [(t[0], t[1], t[2] if len(t) > 2 else "") for t in response.topic_errors
                        if t[1] not in (0, TopicAlreadyExistsError.errno)]
            if failures:
                raise RuntimeError(f"could not create Kafka topics: {failures}")
        return missing
    finally:
        await admin.close()
