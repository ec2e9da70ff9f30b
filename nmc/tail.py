"""`nmc tail`: the decoding console consumer (Debian's kcat cannot decode Avro).

Reads one topic without joining a consumer group (partitions are assigned, no offsets are
committed), filters on the key and on the `event_name` header before decoding, decodes values
through the Schema Registry and yields every record with its partition, offset, key, headers and
value. It decodes with the platform's one decoder, the stream apps' too
(`nmc.infra.avro_decoder`: the writer schema looked up once per id, the framing and its errors
from `nmc.contract.wire`), payloads as written (no major carried back). The decisions — which
topic, where each partition starts, which records to keep, the JSON form — are pure functions,
tested without Kafka.
"""

from __future__ import annotations

import fnmatch
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaError, TopicPartition

from nmc.contract.headers import decode_headers
from nmc.contract.keys import java_partition
from nmc.contract.payload import to_json_value
from nmc.contract.schemas import DOMAINS, topic_for
from nmc.infra.avro_decoder import registry_decoder
from nmc.infra.kafka_clients import consumer_config
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import ServiceSettings


class TailError(RuntimeError):
    """The topic does not exist or cannot be read (exit code 2)."""


@dataclass(frozen=True)
class TailSpec:
    """What to read: one topic, where to start, which records to show, when to stop."""

    topic: str
    from_beginning: bool = False
    last: int = 10
    key: str | None = None
    event_name: str | None = None
    follow: bool = False
    max_records: int | None = None


@dataclass(frozen=True)
class TailRecord:
    """One record as `nmc tail` shows it; `value` is None when it could not be decoded."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    headers: dict[str, str]
    value: Any
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": format_timestamp(self.timestamp_ms),
            "key": self.key,
            "headers": self.headers,
            "value": to_json_value(self.value),
            "error": self.error,
        }


def resolve_topic(target: str) -> str:
    """A domain (`telephony`) names its topic (`nmc.telephony`); anything else is a topic."""
    return topic_for(target) if target in DOMAINS else target


def event_name_matches(pattern: str | None, event_name: str | None) -> bool:
    """Exact name, a prefix (`nmc.scheduling.`, `nmc.scheduling.Appointment`) or a glob."""
    if pattern is None:
        return True
    if event_name is None:
        return False
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(event_name, pattern)
    return event_name.startswith(pattern)


def keep(spec: TailSpec, key: str | None, headers: dict[str, str]) -> bool:
    """Filters that need no decoding: the record key and the `event_name` header."""
    if spec.key is not None and key != spec.key:
        return False
    return event_name_matches(spec.event_name, headers.get("event_name"))


def partitions_to_read(spec: TailSpec, partitions: list[int]) -> list[int]:
    """With `--key`, only the partition the Java partitioner puts that key on."""
    if spec.key is None:
        return sorted(partitions)
    return [java_partition(spec.key, len(partitions))]


def start_offset(spec: TailSpec, low: int, high: int) -> int:
    """Beginning, or the last `spec.last` records (0: only what arrives from now on)."""
    if spec.from_beginning:
        return low
    return max(low, high - max(spec.last, 0))


def format_timestamp(timestamp_ms: int) -> str:
    return (
        datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _decode_key(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace")


def tail(
    settings: ServiceSettings,
    spec: TailSpec,
    stop: threading.Event | None = None,
    on_ready: Callable[[], None] | None = None,
) -> Iterator[TailRecord]:
    """Yield the records `spec` selects; without `follow`, stop at the end of every partition.

    `on_ready` is called once the start positions are assigned (tests produce after it).
    """
    stop = stop or threading.Event()
    consumer = Consumer(consumer_config(
        settings, f"nmc-tail-{uuid.uuid4().hex[:12]}", **{"enable.partition.eof": True}))
    registry = registry_client(settings)
    decode = registry_decoder(registry)  # payloads as written (no major carried back)
    shown = 0
    try:
        meta = consumer.list_topics(spec.topic, timeout=10).topics.get(spec.topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise TailError(f"topic {spec.topic} does not exist")
        assignment = []
        for p in partitions_to_read(spec, list(meta.partitions)):
            low, high = consumer.get_watermark_offsets(TopicPartition(spec.topic, p), timeout=10)
            offset = start_offset(spec, low, high) if high >= 0 else OFFSET_END
            assignment.append(TopicPartition(spec.topic, p, offset))
        consumer.assign(assignment)
        if on_ready is not None:
            on_ready()
        at_end: set[int] = set()
        while not stop.is_set():
            if not spec.follow and len(at_end) == len(assignment):
                return
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition() or 0)
                    continue
                raise TailError(f"consumer error: {err}")
            at_end.discard(msg.partition() or 0)
            key = _decode_key(msg.key())
            headers = decode_headers(msg.headers())
            if not keep(spec, key, headers):
                continue
            value: Any = None
            error: str | None = None
            try:
                value = decode(msg.value() or b"")
            except Exception as exc:  # show it and go on: a console must not die on one record
                error = " ".join(f"cannot decode: {type(exc).__name__}: {exc}".split())
            yield TailRecord(spec.topic, msg.partition() or 0, msg.offset() or 0,
                             msg.timestamp()[1], key, headers, value, error)
            shown += 1
            if spec.max_records is not None and shown >= spec.max_records:
                return
    finally:
        consumer.close()
        registry.close()
