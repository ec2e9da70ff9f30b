"""A stock Python consumer of the NeverMissCall topics, as another team would write it.

Only `confluent-kafka[avro,schemaregistry]`; nothing from the platform's code. It follows the
consumer contract (docs/consumers/README.md): subscribe with ^nmc\\.[a-z]+$ (not nmc\\..*, which
also matches dead-letter and changelog topics), decode Avro through the Schema Registry by the id
in each record, filter on the `event_name` and `schema_version` headers before decoding, dedupe
by `event_id` (delivery is at least once), keep per-key order (one partition is processed
sequentially), commit only after an event is handled. LZ4-compressed batches are read by
librdkafka itself.

    python consume.py --bootstrap 127.0.0.1:9092 \\
        --registry http://127.0.0.1:8081/apis/ccompat/v7 --group my-team --from-beginning

Prints one JSON line per record: topic, partition, offset, key, event_id, event_name, and
`duplicate` when the event_id was seen before. Runs until stopped, or with `--exit-at-end` until
every assigned partition is read up to the end it had when the group assigned it (like kcat -e),
or with `--idle-exit N` until N seconds pass without a record.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import OrderedDict
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

DOMAIN_TOPICS = "^nmc\\.[a-z]+$"
MAJORS = {"1"}  # the majors this consumer was built for (docs/consumers §10)


class SeenEvents:
    """Bounded memory of processed event ids. A real consumer keeps them (or an idempotent
    effect) in its own database, in the same transaction as the effect."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True


class EndOfAssignment:
    """For --exit-at-end: each assigned partition's end offset (high watermark) when the group
    assigned it, and how far this consumer has read it. Records produced after that are left for
    the next run, so others writing all the time do not keep the consumer running."""

    def __init__(self) -> None:
        self.end: dict[tuple[str, int], int] = {}
        self.position: dict[tuple[str, int], int] = {}  # the next offset to read
        self.assigned: set[tuple[str, int]] | None = None  # None: not assigned yet

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            if (p.topic, p.partition) not in self.end:  # a rebalance does not move the end
                _, high = consumer.get_watermark_offsets(p, timeout=10, cached=False)
                self.end[(p.topic, p.partition)] = high
        self.assigned = {(p.topic, p.partition) for p in partitions}

    def is_past(self, msg: Message) -> bool:
        return msg.offset() >= self.end[(msg.topic(), msg.partition())]

    def moved(self, msg: Message, position: int) -> None:
        self.position[(msg.topic(), msg.partition())] = position

    def reached(self) -> bool:
        return self.assigned is not None and all(
            self.position.get(p, -1) >= self.end[p] for p in self.assigned)


def headers_of(msg: Message) -> dict[str, str]:
    return {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in msg.headers() or []}


def handle(event: dict[str, Any]) -> None:
    """Your business logic; must be idempotent (a duplicate may still slip through a restart)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--idle-exit", type=float, default=0.0,
                        help="exit after this many seconds without a record (0: run forever)")
    parser.add_argument("--exit-at-end", action="store_true",
                        help="exit once every assigned partition is read up to its end")
    args = parser.parse_args()

    registry = SchemaRegistryClient({"url": args.registry, "timeout": 10})
    # Decoding needs only the schema id in each record; without this the client also asks the
    # registry which subjects use that id, an API not every registry serves.
    decode = AvroDeserializer(registry, conf={
        "subject.name.strategy": topic_record_subject_name_strategy})
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest" if args.from_beginning else "latest",
        "topic.metadata.refresh.interval.ms": 30_000,  # new domain topics join the pattern
        "enable.partition.eof": args.exit_at_end,  # an event when a partition is read to its end
    })
    ends = EndOfAssignment()
    consumer.subscribe([DOMAIN_TOPICS], on_assign=ends.on_assign)
    seen = SeenEvents()
    last = time.monotonic()
    try:
        while not (args.exit_at_end and ends.reached()) and (
                not args.idle_exit or time.monotonic() - last < args.idle_exit):
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if (error := msg.error()) is not None and error.code() == KafkaError._PARTITION_EOF:
                ends.moved(msg, msg.offset())  # read to the end: the offset is the end
                continue
            if error is not None:
                raise SystemExit(f"consumer error: {error}")
            if args.exit_at_end and ends.is_past(msg):
                ends.moved(msg, msg.offset())  # produced after the assignment: for the next run
                continue
            last = time.monotonic()
            headers = headers_of(msg)
            out = {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
                   "key": (msg.key() or b"").decode(), "event_id": headers.get("event_id"),
                   "event_name": headers.get("event_name")}
            if headers.get("schema_version", "").split(".")[0] not in MAJORS:
                out["skipped"] = "unknown major"  # count these: a new major has arrived
            elif seen.first_time(headers["event_id"]):
                try:
                    event = decode(msg.value(), SerializationContext(msg.topic() or "",
                                                                     MessageField.VALUE))
                except Exception as exc:  # never block the partition: dead-letter it (§11)
                    out["error"] = " ".join(f"{type(exc).__name__}: {exc}".split())
                else:
                    handle(event)
                    out["payload_fields"] = sorted(event["payload"])
            else:
                out["duplicate"] = True
            print(json.dumps(out), flush=True)
            consumer.commit(message=msg, asynchronous=False)  # after the effect: at least once
            ends.moved(msg, msg.offset() + 1)
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
