"""Collect a `Snapshot` from PostgreSQL (outbox, relay leases, dead letters) and Kafka
(consumer groups, their lag and the event-time age of what they have not processed yet).

A part that cannot be collected is reported in `Snapshot.errors` instead of failing the whole
screen, so `nmc status` still shows what it can while a service is down.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from nmc.infra.db import psycopg_dsn
from nmc.infra.kafka_clients import admin_config, consumer_config
from nmc.infra.offsets import records_left
from nmc.infra.settings import ServiceSettings
from nmc.status.model import (
    DeadLetters,
    GroupLag,
    Outbox,
    Relay,
    Snapshot,
    Texts,
    Thresholds,
)
from producers.outbox.table import OUTBOX_LANES
from producers.relay.store import LANE_LOCK_CLASS, MEMBER_LOCK_CLASS

DOMAIN_TOPIC = re.compile(r"^nmc\.[a-z]+$")

_OUTBOX = """
SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
       coalesce(extract(epoch FROM clock_timestamp()
                - min(created_at) FILTER (WHERE state = 'pending')), 0) AS age,
       count(*) FILTER (WHERE state = 'parked') AS parked,
       count(*) FILTER (WHERE state = 'published'
                        AND published_at > clock_timestamp() - interval '60 seconds') AS recent
FROM outbox_events
WHERE state IN ('pending', 'parked')
   OR published_at > clock_timestamp() - interval '60 seconds'
"""

_RELAYS = """
WITH here AS (SELECT oid FROM pg_database WHERE datname = current_database()),
lanes AS (
  SELECT pid, count(*) AS n FROM pg_locks
  WHERE locktype = 'advisory' AND classid = %(lane)s::oid AND objsubid = 2 AND granted
    AND database = (SELECT oid FROM here)
  GROUP BY pid)
SELECT m.pid, coalesce(lanes.n, 0) AS lanes, coalesce(a.application_name, '') AS app,
       coalesce(host(a.client_addr), 'local') AS client
FROM pg_locks m
LEFT JOIN lanes USING (pid)
LEFT JOIN pg_stat_activity a ON a.pid = m.pid
WHERE m.locktype = 'advisory' AND m.classid = %(member)s::oid AND m.objid = 0
  AND m.objsubid = 2 AND m.granted AND m.database = (SELECT oid FROM here)
ORDER BY m.pid
"""

_DEAD_LETTERS = """
SELECT group_id,
       count(*) AS total,
       count(*) FILTER (WHERE created_at > clock_timestamp() - make_interval(secs => %(window)s))
         AS recent,
       extract(epoch FROM clock_timestamp() - max(created_at)) AS newest_age
FROM stream_dead_letters GROUP BY group_id ORDER BY group_id
"""

# Only the states an operator watches: queued and sending have partial indexes.
_TEXTS = """
SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'sending'),
       count(*) FILTER (WHERE status = 'unknown'),
       extract(epoch FROM clock_timestamp() - min(coalesce(claimed_at, updated_at))
                          FILTER (WHERE status = 'unknown'))
FROM outbound_messages WHERE status IN ('queued', 'sending', 'unknown')
"""


@dataclass
class _Parts:
    """What has been collected so far (each part stays empty when its service is down)."""

    outbox: Outbox = field(default_factory=lambda: Outbox(0, 0.0, 0, 0))
    relays: list[Relay] = field(default_factory=list)
    groups: list[GroupLag] = field(default_factory=list)
    missing_groups: list[str] = field(default_factory=list)
    dead_letters: list[DeadLetters] = field(default_factory=list)
    texts: Texts = field(default_factory=Texts)
    errors: list[str] = field(default_factory=list)


def _database(settings: ServiceSettings, limits: Thresholds, parts: _Parts) -> None:
    try:
        with psycopg.connect(psycopg_dsn(settings.database), connect_timeout=10,
                             autocommit=True) as conn:
            pending, age, parked, recent = conn.execute(_OUTBOX).fetchone() or (0, 0, 0, 0)
            parts.outbox = Outbox(int(pending), float(age), int(parked), int(recent))
            rows = conn.execute(_RELAYS, {"lane": LANE_LOCK_CLASS,
                                          "member": MEMBER_LOCK_CLASS}).fetchall()
            parts.relays = [Relay(int(p), int(n), str(a), str(c)) for p, n, a, c in rows]
            has_texts = conn.execute("SELECT to_regclass('outbound_messages')").fetchone()
            if has_texts and has_texts[0] is not None:
                q, sending, unknown, oldest = conn.execute(_TEXTS).fetchone() or (0, 0, 0, None)
                parts.texts = Texts(int(q), int(sending), int(unknown),
                                    None if oldest is None else float(oldest))
            exists = conn.execute("SELECT to_regclass('stream_dead_letters')").fetchone()
            if exists and exists[0] is not None:
                dl = conn.execute(_DEAD_LETTERS,
                                  {"window": limits.dead_letter_window_s}).fetchall()
                parts.dead_letters = [
                    DeadLetters(str(g), int(t), int(r), None if a is None else float(a))
                    for g, t, r, a in dl]
    except psycopg.Error as exc:
        parts.errors.append(f"PostgreSQL: {' '.join(str(exc).split())}")


def _committed(admin: AdminClient, group: str,
               timeout_s: float) -> dict[tuple[str, int], int]:
    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                request_timeout=timeout_s)
    result = futures[group].result()
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or []
            if DOMAIN_TOPIC.match(tp.topic)}


def _unprocessed_ages(consumer: Consumer, positions: list[TopicPartition],
                      timeout_s: float) -> dict[tuple[str, int], float]:
    """Event-time age of the first record each group position has not processed yet."""
    if not positions:
        return {}
    consumer.assign(positions)
    ages: dict[tuple[str, int], float] = {}
    deadline = time.monotonic() + timeout_s
    wanted = {(tp.topic, tp.partition) for tp in positions}
    while wanted - ages.keys() and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or msg.error():
            continue
        where = (msg.topic() or "", msg.partition() or 0)
        if where in wanted and where not in ages:
            ages[where] = max(time.time() - msg.timestamp()[1] / 1000.0, 0.0)
            consumer.pause([TopicPartition(*where)])
    consumer.resume(positions)  # librdkafka keeps a partition's pause across assignments
    consumer.unassign()
    return ages


def _kafka(settings: ServiceSettings, expected: Sequence[str], parts: _Parts,
           timeout_s: float = 10.0) -> None:
    try:
        admin = AdminClient(admin_config(settings))
        listing = admin.list_consumer_groups(request_timeout=timeout_s).result()
        states = {g.group_id: g.state.name for g in listing.valid}
        consumer = Consumer(consumer_config(settings, f"nmc-status-{uuid.uuid4().hex[:8]}"))
        try:
            lags: dict[tuple[str, str], int] = defaultdict(int)
            behind: dict[str, list[TopicPartition]] = defaultdict(list)
            for group in sorted(states):
                for (topic, part), offset in _committed(admin, group, timeout_s).items():
                    low, high = consumer.get_watermark_offsets(TopicPartition(topic, part),
                                                               timeout=timeout_s)
                    left = records_left(offset, low, high)
                    lags[(group, topic)] += left
                    if left:  # the oldest record still to read is the one `left` before the end
                        behind[group].append(TopicPartition(topic, part, high - left))
            groups = []
            for group in sorted({g for g, _ in lags}):
                ages = _unprocessed_ages(consumer, behind[group], timeout_s=5.0)
                for (g, topic), lag in sorted(lags.items()):
                    if g != group:
                        continue
                    topic_ages = [a for (t, _), a in ages.items() if t == topic]
                    groups.append(GroupLag(group, topic, states[group], lag,
                                           max(topic_ages) if topic_ages else None,
                                           group in expected))
            parts.groups = groups
            seen = {g.group for g in groups}
            parts.missing_groups = [g for g in expected if g not in seen]
        finally:
            consumer.close()
    except Exception as exc:  # KafkaException and its futures' errors alike
        parts.errors.append(f"Kafka: {' '.join(str(exc).split())}")


def collect(
    settings: ServiceSettings,
    limits: Thresholds,
    expected_groups: Sequence[str],
) -> Snapshot:
    """One snapshot of the pipeline; unreachable services are listed in `errors`."""
    parts = _Parts()
    _database(settings, limits, parts)
    _kafka(settings, expected_groups, parts)
    return Snapshot(outbox=parts.outbox, relays=parts.relays, lanes_total=OUTBOX_LANES,
                    groups=parts.groups, missing_groups=parts.missing_groups,
                    dead_letters=parts.dead_letters, errors=parts.errors, texts=parts.texts)
