"""The relay's partitioner puts every key where Kafka's default partitioner (and the Java client) would:
a lead's events stay in one partition, in order, whoever produced them."""

from __future__ import annotations

import uuid

from aiokafka.partitioner import DefaultPartitioner

from leadflow_shared.kafka import key_partitioner


def test_keys_land_where_the_default_partitioner_puts_them() -> None:
    keys = [str(uuid.UUID(int=i * 7919)).encode() for i in range(2_000)] + [b"", b"\xff" * 3, "线索".encode()]
    for partitions in ([0], list(range(6)), list(range(7))):
        for key in keys * 2:  # the second time from memory
            assert key_partitioner(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_keyless_event_goes_to_an_available_partition() -> None:
    assert key_partitioner(None, [0, 1, 2], [2]) == 2
