"""`nmc schemas retire`: stop an old major only once nobody still needs it.

Safe means: every consumer group that reads the event's topic has committed past the last
record of that major on every partition (a group's committed offset is the next record it
reads, so it must be above the last one), no row of that major waits in the outbox, and a
newer major is registered for consumers to move to. `decide` is the pure rule; the rest reads
Kafka, the outbox and the registry.

Where the last records are. The relay could record the offset of every published row, but
records reach the topics by other paths too (the Debezium outbox router, replays), and a
table of offsets would be a second truth to keep in step with the log. Reading the log is
exact whoever wrote it: each partition is scanned backwards in chunks, headers only
(`event_name`, `schema_version`, DESIGN.md §2), so no value is decoded and the scan stops at
the first chunk holding the major — right after a transition window closes, the first one.

What retiring does. The major's subject is soft-deleted in the registry: lookups by subject
stop answering, so every outbox writer that (re)asks refuses that major ("not registered",
issue #22 item 0), and `nmc schemas check` no longer sees it; schema ids keep resolving, so
every record already written stays readable by any consumer, replays included. Registering
the schema again undoes it. Writers that cached the id before keep it until they restart:
the command prints the `NMC_RETIRED_MAJORS` value that makes them refuse it at once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy import Engine, text

from nmc.contract.headers import decode_headers
from nmc.infra.kafka_clients import admin_config, consumer_config
from nmc.infra.settings import ServiceSettings


@dataclass(frozen=True)
class Lagging:
    """A group that has not read past the last record of the major on one partition."""

    group: str
    partition: int
    committed: int | None  # the next offset the group reads; None: nothing committed here
    last: int  # offset of the last record of the major

    @property
    def behind(self) -> int:
        """Records of the partition, up to the last one of the major, the group has not read."""
        position = self.committed if self.committed is not None and self.committed >= 0 else 0
        return self.last + 1 - position


@dataclass(frozen=True)
class RetireDecision:
    """Whether a major may be retired, and every reason it may not."""

    lagging: list[Lagging] = field(default_factory=list)
    unpublished: int = 0
    newer_registered: bool = True

    @property
    def allowed(self) -> bool:
        return not self.lagging and not self.unpublished and self.newer_registered

    def reasons(self, event_name: str, major: int, topic: str) -> list[str]:
        out = []
        by_group: dict[str, list[Lagging]] = {}
        for lag in self.lagging:
            by_group.setdefault(lag.group, []).append(lag)
        for group, lags in sorted(by_group.items()):
            where = ", ".join(
                f"partition {lag.partition}: committed "
                f"{'nothing' if lag.committed is None or lag.committed < 0 else lag.committed}"
                f", last v{major} record at {lag.last}" for lag in lags)
            out.append(f"group {group} is {sum(lag.behind for lag in lags)} records behind "
                       f"the last v{major} {event_name} on {topic} ({where})")
        if self.unpublished:
            out.append(f"{self.unpublished} outbox rows of {event_name} major {major} are not "
                       "published yet")
        if not self.newer_registered:
            out.append(f"no major above {major} of {event_name} is registered on {topic}: "
                       "consumers would have nothing to move to")
        return out


def decide(last: Mapping[int, int], groups: Mapping[str, Mapping[int, int | None]],
           unpublished: int = 0, newer_registered: bool = True) -> RetireDecision:
    """The rule (pure). `last`: partition -> offset of the major's last record (partitions
    without one need nothing); `groups`: every group reading the topic -> partition -> its
    committed offset (missing or None: nothing committed there)."""
    lagging = [
        Lagging(group, partition, committed.get(partition), offset)
        for group, committed in sorted(groups.items())
        for partition, offset in sorted(last.items())
        if _not_past(committed.get(partition), offset)
    ]
    return RetireDecision(lagging, unpublished, newer_registered)


def _not_past(committed: int | None, last: int) -> bool:
    return committed is None or committed <= last


def is_major(headers: Mapping[str, str], event_name: str, major: int) -> bool:
    """A record of `event_name` at `major`, by its headers alone (pure)."""
    return (headers.get("event_name") == event_name
            and headers.get("schema_version", "").split(".", 1)[0] == str(major))


def last_offsets(settings: ServiceSettings, topic: str, event_name: str, major: int,
                 chunk: int = 500, timeout_s: float = 60.0) -> dict[int, int]:
    """Partition -> offset of the last record of the major, scanning backwards by chunks."""
    consumer = Consumer(consumer_config(settings, f"nmc-retire-scan-{uuid.uuid4().hex[:8]}",
                                        **{"enable.auto.offset.store": False,
                                           "isolation.level": "read_uncommitted"}))
    found: dict[int, int] = {}
    deadline = time.monotonic() + timeout_s
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        for partition in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                       timeout=timeout_s)
            end = high
            while end > low and partition not in found:
                start = max(low, end - chunk)
                consumer.assign([TopicPartition(topic, partition, start)])
                position = start
                while position < end:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{topic}[{partition}] not scanned in {timeout_s}s")
                    msg = consumer.poll(0.5)
                    if msg is None or msg.error():
                        continue
                    offset = msg.offset() or 0
                    position = offset + 1
                    if offset < end and is_major(decode_headers(msg.headers()), event_name,
                                                 major):
                        found[partition] = offset
                end = start
            consumer.unassign()
    finally:
        consumer.close()
    return found


def reading_groups(settings: ServiceSettings, topic: str,
                   timeout_s: float = 30.0) -> dict[str, dict[int, int | None]]:
    """Every consumer group with a committed offset on `topic`: partition -> offset."""
    admin = AdminClient(admin_config(settings))
    listing = admin.list_consumer_groups(request_timeout=timeout_s).result()
    out: dict[str, dict[int, int | None]] = {}
    for group in sorted(g.group_id for g in listing.valid):
        result = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)], request_timeout=timeout_s)[group].result()
        mine = {tp.partition: (tp.offset if tp.offset >= 0 else None)
                for tp in result.topic_partitions or [] if tp.topic == topic}
        if any(v is not None for v in mine.values()):
            out[group] = mine
    return out


def unpublished_rows(engine: Engine, event_name: str, major: int, topic: str) -> int:
    """Outbox rows of the major on `topic` not published yet (pending or parked)."""
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM outbox_events WHERE event_name = :e AND schema_major = :m "
            "AND topic = :t AND state IN ('pending', 'parked')"),
            {"e": event_name, "m": major, "t": topic}).scalar_one())


def retired_setting(current: Mapping[str, list[int]], event_name: str, major: int) -> str:
    """The `NMC_RETIRED_MAJORS` value with this major added (pure)."""
    merged = {k: sorted(set(v)) for k, v in current.items()}
    merged[event_name] = sorted({*merged.get(event_name, []), major})
    return json.dumps(merged, separators=(",", ":"))
