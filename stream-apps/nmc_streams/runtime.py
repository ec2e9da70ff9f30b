"""Composition root of a stream app: Faust app, source topics, table, agent, DLQ, metrics.

The agent is thin: it hands every record to `Handler`, which holds the whole per-event policy
(decode, dedupe, reduce, project, retry, dead-letter) behind plain callables, so unit tests
drive it without Kafka. Guarantees (DESIGN.md §4, §6): at-least-once (no exactly_once), agent
concurrency 1, the flow table keyed by the record key so it co-partitions with its sources,
rows projected to PostgreSQL *before* the table write, so a crash between the two replays an
event whose effects are idempotent rather than skipping one the database never saw.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import faust
from confluent_kafka.serialization import SerializationError
from faust.stores import STORES
from sqlalchemy import Engine

from nmc.kafka import ensure_topics
from nmc.registry import registry_client
from nmc.settings import Settings
from nmc_streams import codec as avro_codec
from nmc_streams import db
from nmc_streams.conversation import state as conversation
from nmc_streams.events import Fact, PoisonEvent, to_fact
from nmc_streams.metrics import StreamMetrics
from nmc_streams.reporting import state as reporting
from nmc_streams.retry import full_jitter
from nmc_streams.scheduling import state as scheduling
from nmc_streams.settings import StreamSettings, dlq_topic
from nmc_streams.state import State, apply, seen

log = logging.getLogger(__name__)

# faust-streaming 0.15.3 registers only `rocksdb://` (which already uses the rocksdict driver
# when python-rocksdb is absent); `rocksdict://` would resolve to the rocksdict *module*.
STORES.aliases.setdefault("rocksdict", "faust.stores.rocksdb:Store")

Derive = Callable[[Mapping[str, Any]], Mapping[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class AppSpec:
    """What distinguishes one stream app from another."""

    name: str
    domains: tuple[str, ...]
    events: frozenset[str]
    derive: Derive


SPECS: dict[str, AppSpec] = {
    "conversation": AppSpec(
        "conversation", ("telephony", "conversation"), conversation.EVENTS, conversation.derive
    ),
    "scheduling": AppSpec("scheduling", ("scheduling",), scheduling.EVENTS, scheduling.derive),
    "reporting": AppSpec(
        "reporting",
        ("telephony", "conversation", "catalog", "scheduling", "compliance", "billing"),
        reporting.EVENTS,
        reporting.derive,
    ),
}


@dataclass(frozen=True)
class Record:
    """The transport-neutral view of one consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, str]


class Handler:
    """Per-event policy; never raises, so the partition always keeps flowing."""

    def __init__(
        self,
        spec: AppSpec,
        settings: StreamSettings,
        group_id: str,
        decode: Callable[[bytes], Any],
        table: MutableMapping[bytes, Any],
        project: Callable[[Mapping[str, list[dict[str, Any]]]], None],
        dead_letter_db: Callable[[Mapping[str, Any]], None],
        dead_letter_kafka: Callable[[Record, Mapping[str, str]], Awaitable[None]],
        metrics: StreamMetrics,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.group_id = group_id
        self.decode = decode
        self.table = table
        self.project = project
        self.dead_letter_db = dead_letter_db
        self.dead_letter_kafka = dead_letter_kafka
        self.metrics = metrics
        self.sleep = sleep

    def _fact(self, record: Record) -> Fact:
        if record.value is None:
            raise PoisonEvent("record has no value (tombstone)")
        return to_fact(self.decode(record.value))

    def _apply(self, fact: Fact) -> str:
        if fact.name not in self.spec.events:
            return "ignored"
        key = fact.key.encode()
        current: State | None = self.table.get(key)
        if seen(current, fact.event_id):
            return "duplicate"
        new = apply(current, fact)
        self.project(self.spec.derive(new))
        self.table[key] = new
        return "applied"

    async def handle(self, record: Record) -> str:
        """Process one record: applied | duplicate | ignored | dead-lettered."""
        labels = (self.spec.name, record.topic)
        fact: Fact | None = None
        attempts = 0
        error = ""
        while True:
            attempts += 1
            try:
                fact = self._fact(record)
                outcome = self._apply(fact)
                self.metrics.processed.labels(*labels, outcome).inc()
                return outcome
            except (PoisonEvent, SerializationError) as exc:
                self.metrics.failed.labels(*labels).inc()
                error = f"permanent: {type(exc).__name__}: {exc}"
                break
            except Exception as exc:
                self.metrics.failed.labels(*labels).inc()
                error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "%s@%d/%d attempt %d failed: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    attempts,
                    error,
                )
                if attempts >= self.settings.max_attempts:
                    break
                await self.sleep(
                    full_jitter(attempts, self.settings.retry_base_s, self.settings.retry_max_s)
                )
        await self._dead_letter(record, fact, error, attempts)
        self.metrics.dead_lettered.labels(*labels).inc()
        self.metrics.processed.labels(*labels, "dead-lettered").inc()
        return "dead-lettered"

    async def _dead_letter(
        self, record: Record, fact: Fact | None, error: str, attempts: int
    ) -> None:
        """Kafka DLQ then the table row; retried until both succeed (never dropped silently)."""
        extra = {
            "dlq_error": error[:1000],
            "dlq_attempts": str(attempts),
            "dlq_group": self.group_id,
            "dlq_source": f"{record.topic}:{record.partition}:{record.offset}",
        }
        row = {
            "group_id": self.group_id,
            "app": self.spec.name,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "record_key": record.key.decode(errors="replace") if record.key else None,
            "event_id": fact.event_id if fact else record.headers.get("event_id"),
            "event_name": (fact.name if fact else None) or record.headers.get("event_name"),
            "tenant_id": fact.tenant_id if fact else record.headers.get("tenant_id"),
            "event": {
                "event_id": fact.event_id,
                "name": fact.name,
                "tenant_id": fact.tenant_id,
                "correlation_id": fact.correlation_id,
                **fact.to_json(),
            }
            if fact
            else None,
            "raw_value": record.value,
            "headers": dict(record.headers),
            "error": error,
            "attempts": attempts,
        }
        tries = 0
        while True:
            tries += 1
            try:
                await self.dead_letter_kafka(record, extra)
                self.dead_letter_db(row)
                return
            except Exception as exc:
                log.error(
                    "dead-lettering %s@%d/%d failed (try %d): %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    tries,
                    exc,
                )
                await self.sleep(full_jitter(tries, self.settings.retry_base_s, 30.0))


def _headers(raw: Any) -> dict[str, str]:
    items = raw.items() if isinstance(raw, Mapping) else (raw or [])
    return {
        str(k): v.decode(errors="replace") if isinstance(v, bytes) else str(v) for k, v in items
    }


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def build_app(
    app_name: str,
    platform: Settings,
    settings: StreamSettings,
    worker_id: str,
    metrics: StreamMetrics,
) -> tuple[Any, Engine]:
    """Wire one stream app; nothing connects until the Faust worker starts it."""
    spec = SPECS[app_name]
    app_id = settings.app_id(app_name)
    partitions = platform.nmc_topic_partitions
    datadir = platform.nmc_home / "streams" / app_name / worker_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=f"kafka://{platform.kafka}",
        store="rocksdict://",
        datadir=str(datadir),
        topic_partitions=partitions,
        processing_guarantee="at_least_once",
        web_enabled=False,
        autodiscover=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
    )
    source = app.topic(
        *(settings.source_topic(d) for d in spec.domains),
        key_serializer="raw",
        value_serializer="raw",
    )
    # key_type=bytes makes the key codec "raw"; the value (a JSON dict) uses the json codec.
    table = app.Table("flows", default=None, partitions=partitions, key_type=bytes)
    dlq = app.topic(dlq_topic(app_id), key_serializer="raw", value_serializer="raw")
    engine = db.make_engine(platform.database)
    codec = avro_codec.register(registry_client(platform))

    async def send_dlq(record: Record, extra: Mapping[str, str]) -> None:
        headers = [(k, v.encode()) for k, v in {**record.headers, **extra}.items()]
        fut = await dlq.send(key=record.key, value=record.value or b"", headers=headers)
        await fut

    handler = Handler(
        spec,
        settings,
        app_id,
        codec.loads,
        table,
        lambda rows: db.project(engine, rows),
        lambda row: db.dead_letter(engine, row),
        send_dlq,
        metrics,
    )

    @app.agent(source, concurrency=1, name=f"{app_name}-flows")
    async def process(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            await handler.handle(
                Record(
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    key=event.key,
                    value=event.value,
                    headers=_headers(event.headers),
                )
            )
            highwater = app.consumer.highwater(message.tp)
            if highwater is not None:
                metrics.lag.labels(app_name, message.topic, str(message.partition)).set(
                    max(highwater - message.offset - 1, 0)
                )

    return app, engine


def prepare_topics(app_name: str, platform: Settings, settings: StreamSettings) -> None:
    """Create missing source and DLQ topics; refuse a layout that breaks co-partitioning."""
    spec = SPECS[app_name]
    topics = [settings.source_topic(d) for d in spec.domains]
    ensure_topics(platform, [*topics, dlq_topic(settings.app_id(app_name))])


def run_worker(app_name: str, platform: Settings, settings: StreamSettings, worker_id: str) -> None:
    """Run one worker process until SIGTERM/SIGINT (what `nmc worker <app>` calls)."""
    from prometheus_client import start_http_server

    prepare_topics(app_name, platform, settings)
    metrics = StreamMetrics(app_name)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, registry=metrics.registry)
    app, engine = build_app(app_name, platform, settings, worker_id, metrics)
    try:
        worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
        worker.execute_from_commandline()
    finally:
        engine.dispose()
