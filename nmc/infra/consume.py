"""Reading events back from Kafka the way any other team would (demo, tests, benchmarks)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.serialization import MessageField, SerializationContext

from nmc.contract.headers import decode_headers
from nmc.infra.kafka_clients import consumer_config
from nmc.infra.schema_registry import registry_client, value_deserializer
from nmc.infra.settings import ServiceSettings


@dataclass(frozen=True)
class DecodedRecord:
    topic: str
    partition: int
    offset: int
    key: str
    timestamp_ms: int
    headers: dict[str, str]
    value: dict[str, Any]
    raw_value: bytes


def end_offsets(settings: ServiceSettings, topics: Iterable[str]) -> list[TopicPartition]:
    """Current end of every partition: start reading here to see only what comes next."""
    consumer = Consumer(consumer_config(settings, "nmc-offsets-probe"))
    try:
        positions = []
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                positions.append(TopicPartition(topic, p, high))
        return positions
    finally:
        consumer.close()


def read_records(
    settings: ServiceSettings,
    start: list[TopicPartition],
    until: Callable[[list[DecodedRecord]], bool],
    timeout_s: float = 60.0,
    keep: Callable[[dict[str, str]], bool] = lambda _h: True,
) -> list[DecodedRecord]:
    """Read from `start` positions, decoding through the registry, until `until(records)`."""
    consumer = Consumer(consumer_config(settings, "nmc-reader"))
    registry = registry_client(settings)
    deserialize = value_deserializer(registry)
    records: list[DecodedRecord] = []
    deadline = time.monotonic() + timeout_s
    try:
        consumer.assign(start)
        while not until(records):
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(records)} records before the {timeout_s}s timeout")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise RuntimeError(f"consumer error: {msg.error()}")
            headers = decode_headers(msg.headers())
            if not keep(headers):
                continue
            raw = msg.value() or b""
            topic = msg.topic() or ""
            value = deserialize(raw, SerializationContext(topic, MessageField.VALUE))
            if not isinstance(value, dict):
                raise RuntimeError(f"{topic}@{msg.offset()}: value is not an Avro record")
            records.append(
                DecodedRecord(
                    topic=topic,
                    partition=msg.partition() or 0,
                    offset=msg.offset() or 0,
                    key=(msg.key() or b"").decode(),
                    timestamp_ms=msg.timestamp()[1],
                    headers=headers,
                    value=value,
                    raw_value=raw,
                )
            )
        return records
    finally:
        consumer.close()
        registry.close()
