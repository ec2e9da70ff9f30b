"""Composition root of a stream app: Faust app, source topics, batching agent, DLQ, metrics.

The agent is thin: it takes up to `batch_max_events` events within `batch_within_ms` with
`noack_take` (plain `take()` acknowledges a batch by itself as soon as the loop body returns
or raises: robinhood/faust#513, faust-streaming PR #192), hands them to `BatchProjector`, and
acknowledges them only once it returned, i.e. once every event is durable in PostgreSQL or
dead-lettered. Agent concurrency is 1 (faust-streaming #606: concurrency > 1 commits past
events in flight), so offsets only move over acknowledged events. At-least-once throughout;
idempotence comes from the entity states kept in the same transaction as the read models.

State lives in PostgreSQL, not in a Faust table: a table would be a second store written after
the database, and every way the two can diverge (a changelog topic with 0 partitions on a
fresh app id, a crash between the two writes) leaves read models built from partial state.
With no table there is no changelog to create, recover or co-partition.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import faust
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy import Engine

from nmc.contract.dead_letter import dlq_headers, dlq_topic, replay_topic
from nmc.contract.facts import Fact
from nmc.infra import tracing
from nmc.infra.avro_decoder import registry_decoder
from nmc.infra.dead_letters import record_dead_letter
from nmc.infra.faust_broker import faust_broker, faust_credentials
from nmc.infra.heap import settle_heap
from nmc.infra.kafka_clients import admin_config, ensure_topics
from nmc.infra.offsets import records_left
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import Settings
from nmc_streams import db
from nmc_streams.batch import BatchProjector, Record, Rows, StateWrite
from nmc_streams.flows import MODELS, PAYLOAD_MAJOR
from nmc_streams.metrics import StreamMetrics
from nmc_streams.settings import StreamSettings

log = logging.getLogger(__name__)

DOMAINS: dict[str, tuple[str, ...]] = {
    "conversation": ("telephony", "conversation"),
    "scheduling": ("scheduling",),
    "reporting": ("telephony", "conversation", "catalog", "scheduling", "compliance", "billing"),
}
"""The domain topics each app reads."""


class PostgresStateStore:
    """`StateStore` on the platform database (entity states + read models, one transaction)."""

    def __init__(self, engine: Engine, app: str) -> None:
        self.engine = engine
        self.app = app

    def load(self, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return db.load_states(self.engine, self.app, wanted)

    def write(self, states: StateWrite, rows: Rows) -> None:
        db.write_batch(self.engine, self.app, states, rows)


def dead_letter_row(
    group_id: str, app: str, record: Record, fact: Fact | None, error: str, attempts: int
) -> dict[str, Any]:
    """The `stream_dead_letters` row of a record (the event as JSON when it decoded)."""
    return {
        "group_id": group_id,
        "app": app,
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


def _headers(raw: Any) -> dict[str, str]:
    items = raw.items() if isinstance(raw, Mapping) else (raw or [])
    return {
        str(k): v.decode(errors="replace") if isinstance(v, bytes) else str(v) for k, v in items
    }


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def behind(
    committed: Mapping[Any, int | None],
    ends: Mapping[Any, int],
    starts: Mapping[Any, int] | None = None,
) -> list[Any]:
    """Assigned partitions with records left to read (pure; deleted records do not count, see
    `records_left`)."""
    starts = starts or {}
    return sorted(
        (tp for tp, end in ends.items()
         if records_left(committed.get(tp), starts.get(tp, 0), end) > 0),
        key=str,
    )


class StallWatch:
    """The watchdog's memory between checks (pure): which assignment it judges and how many
    checks in a row found the worker stalled."""

    def __init__(self) -> None:
        self.assignment: frozenset[Any] | None = None
        self.stalls_in_a_row = 0

    def new_assignment(self, assignment: frozenset[Any]) -> None:
        self.assignment = assignment
        self.stalls_in_a_row = 0

    def progressing(self) -> None:
        self.stalls_in_a_row = 0

    def stalled(self) -> str:
        """`seek` the first time in a row, `restart` when seeking did not help."""
        self.stalls_in_a_row += 1
        return "seek" if self.stalls_in_a_row == 1 else "restart"


def committed_offsets(
    admin: AdminClient, group: str, partitions: list[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The group's committed offset per partition (absent: nothing committed yet)."""
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p) for t, p in partitions])
    result = admin.list_consumer_group_offsets([request], request_timeout=10)[group].result()
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in result.topic_partitions or []
        if tp.offset >= 0
    }


_RESTART = threading.Event()


def request_restart() -> None:
    """Stop this worker the graceful way (SIGTERM: its consumer leaves the group, so the next
    incarnation joins with one rebalance, not two) and have `run_worker` re-execute it."""
    _RESTART.set()
    os.kill(os.getpid(), signal.SIGTERM)


def restart_in_place() -> None:
    """Replace this process with a fresh worker of the same command line (same pid, so a
    test or supervisor watching it sees one worker). Nothing is lost: offsets only ever
    cover durable batches."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    argv = sys.argv[1:]
    # an injected fault (the watchdog tests) strikes once, not again in the restarted worker
    env = {k: v for k, v in os.environ.items() if not k.startswith("NMC_STREAMS_CRASH_")}
    if sys.argv[0].endswith("__main__.py"):  # started as `python -m nmc_streams`
        argv = ["-m", "nmc_streams", *argv]
    else:
        argv = [sys.argv[0], *argv]
    os.execve(sys.executable, [sys.executable, *argv], env)  # noqa: S606


def _crash_here(settings: StreamSettings, point: str, batches: int, consumer: Any) -> None:
    """Fault injection for the kill tests: a real SIGKILL at a chosen point of a batch, or
    (`pause`) fetching stopped on every partition, the stall the watchdog must heal."""
    if settings.crash_after_batches != batches or settings.crash_point != point:
        return
    if point == "pause":
        consumer.pause_partitions(consumer.assignment())
    else:
        os.kill(os.getpid(), signal.SIGKILL)


def build_app(
    app_name: str,
    platform: Settings,
    settings: StreamSettings,
    worker_id: str,
    metrics: StreamMetrics,
) -> tuple[Any, Engine]:
    """Wire one stream app; nothing connects until the Faust worker starts it."""
    app_id = settings.app_id(app_name)
    datadir = platform.nmc_home / "streams" / app_name / worker_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=faust_broker(platform),
        broker_credentials=faust_credentials(platform),
        datadir=str(datadir),
        topic_partitions=platform.nmc_topic_partitions,
        processing_guarantee="at_least_once",
        web_enabled=False,
        autodiscover=False,
        topic_disable_leader=True,
        topic_allow_declare=False,  # prepare_topics creates and verifies every topic first
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        stream_buffer_maxsize=max(4096, settings.batch_max_events * 2),
    )
    source = app.topic(  # the domain topics and this group's replays (`nmc dlq replay`)
        *(settings.source_topic(d) for d in DOMAINS[app_name]),
        replay_topic(app_id),
        key_serializer="raw",
        value_serializer="raw",
    )
    dlq = app.topic(dlq_topic(app_id), key_serializer="raw", value_serializer="raw")
    engine = db.worker_engine(settings.database_url.get_secret_value()
                              if settings.database_url is not None else platform.database)
    decode = registry_decoder(registry_client(platform), PAYLOAD_MAJOR)

    async def dead_letter(record: Record, fact: Fact | None, error: str, attempts: int) -> None:
        all_headers = dlq_headers(
            record.headers, error=error, attempts=attempts, group_id=app_id,
            topic=record.topic, partition=record.partition, offset=record.offset,
        )
        headers = [(k, v.encode()) for k, v in all_headers.items()]
        fut = await dlq.send(key=record.key, value=record.value or b"", headers=headers)
        await fut
        row = dead_letter_row(app_id, app_name, record, fact, error, attempts)
        await asyncio.to_thread(record_dead_letter, engine, row)

    projector = BatchProjector(
        app_name,
        MODELS[app_name],
        PostgresStateStore(engine, app_name),
        decode,
        dead_letter,
        metrics,
        retry_base_s=settings.retry_base_s,
        retry_max_s=settings.retry_max_s,
    )
    batches = 0
    last_batch_at = time.monotonic()
    in_batch = False

    @app.agent(source, concurrency=1, name=f"{app_name}-batches")
    async def process(stream: Any) -> None:
        nonlocal batches, last_batch_at, in_batch
        within = settings.batch_within_ms / 1000
        async for events in stream.noack_take(settings.batch_max_events, within):
            started = time.perf_counter()
            batches += 1
            in_batch = True
            _crash_here(settings, "before-write", batches, app.consumer)
            await projector.handle([_record(event) for event in events])
            _crash_here(settings, "after-commit", batches, app.consumer)
            for event in events:
                await stream.ack(event)
            in_batch = False
            last_batch_at = time.monotonic()
            _crash_here(settings, "after-ack", batches, app.consumer)
            _crash_here(settings, "pause", batches, app.consumer)
            if settings.crash_point == "wedge" and settings.crash_after_batches == batches:
                await asyncio.Event().wait()  # fault injection: the agent takes nothing more
            metrics.batch_events.labels(app_name).observe(len(events))
            metrics.batch_seconds.labels(app_name).observe(time.perf_counter() - started)
            last: dict[Any, int] = {}
            for event in events:
                last[event.message.tp] = event.message.offset
            for tp, offset in last.items():
                highwater = app.consumer.highwater(tp)
                if highwater is not None:
                    metrics.lag.labels(app_name, tp.topic, str(tp.partition)).set(
                        max(highwater - offset - 1, 0)
                    )

    admin = AdminClient(admin_config(platform))
    watch = StallWatch()

    @app.timer(interval=settings.stall_check_s)  # type: ignore[untyped-decorator]
    async def watchdog() -> None:
        """A worker that holds partitions its group has not committed to their end, and has
        processed nothing for a whole interval, is stalled (seen rarely, under heavy load,
        right after an assignment: the fetcher has the records, the agent never gets them).
        Committed offsets, not fetch positions, are the measure: a fetched but undelivered
        record moves the position, not the commit. First remedy: seek to the committed offsets
        and resume fetching (replays are idempotent); still stalled at the next check: restart
        the process in place (`os.execv`), as a supervisor would."""
        nonlocal last_batch_at
        consumer = app.consumer
        assignment = frozenset(consumer.assignment())
        if watch.assignment != assignment:
            watch.new_assignment(assignment)
            last_batch_at = time.monotonic()  # a fresh assignment gets a whole interval
            return
        idle_s = time.monotonic() - last_batch_at
        if not assignment or idle_s < settings.stall_check_s:
            watch.progressing()
            return
        if in_batch:  # an outage being waited out inside a batch is not a stall (it logs)
            if idle_s >= 4 * settings.stall_check_s:
                log.warning("%s: one batch has been running for %.0fs", app_name, idle_s)
            return
        ends = await consumer.highwaters(*assignment)
        starts = await consumer.earliest_offsets(*assignment)
        committed = await asyncio.to_thread(
            committed_offsets, admin, app_id, [(tp.topic, tp.partition) for tp in assignment]
        )
        stuck = behind(
            {tp: committed.get((tp.topic, tp.partition)) for tp in assignment}, ends, starts
        )
        if not stuck:
            watch.progressing()
            return
        action = watch.stalled()
        metrics.stalls.labels(app_name).inc()
        positions = {tp: await consumer.position(tp) for tp in stuck}
        log.warning(
            "%s: no batch for %.0fs while behind on %s (committed %s, positions %s, ends %s, "
            "paused %s, flow active %s); %s",
            app_name, idle_s,
            [f"{tp.topic}:{tp.partition}" for tp in stuck],
            {str(tp): committed.get((tp.topic, tp.partition)) for tp in stuck},
            {str(tp): positions.get(tp) for tp in stuck},
            {str(tp): ends.get(tp) for tp in stuck},
            sorted(str(tp) for tp in getattr(consumer, "_paused_partitions", ())),
            app.flow_control.is_active(),
            "seeking to committed (or earliest) offsets and resuming" if action == "seek"
            else "restarting the worker process",
        )
        if action == "restart" and settings.restart_on_stall:
            request_restart()
            return
        try:
            # explicit seeks: `perform_seek` only moves partitions with a committed offset, and
            # a fresh group whose first records were lost this way has none
            targets = {tp: committed.get((tp.topic, tp.partition)) for tp in stuck}
            fresh = [tp for tp, offset in targets.items() if offset is None]
            earliest = await consumer.earliest_offsets(*fresh) if fresh else {}
            consumer.resume_partitions(assignment)
            for tp, offset in targets.items():
                await consumer.seek(tp, offset if offset is not None else earliest[tp])
        except Exception:  # a failed remedy must not end the worker; the next check retries
            log.exception("%s: seeking after a stall failed", app_name)

    return app, engine


def _record(event: Any) -> Record:
    message = event.message
    return Record(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=event.key,
        value=event.value,
        headers=_headers(event.headers),
    )


def prepare_topics(app_name: str, platform: Settings, settings: StreamSettings) -> None:
    """Create missing source, DLQ and replay topics (verified: equal partition counts, leaders
    elected) before any agent subscribes."""
    topics = [settings.source_topic(d) for d in DOMAINS[app_name]]
    app_id = settings.app_id(app_name)
    ensure_topics(platform, [*topics, dlq_topic(app_id), replay_topic(app_id)])


def run_worker(app_name: str, platform: Settings, settings: StreamSettings, worker_id: str) -> None:
    """Run one worker process until SIGTERM/SIGINT (what `nmc worker <app>` calls)."""
    from prometheus_client import start_http_server

    prepare_topics(app_name, platform, settings)
    tracing.configure(f"nmc-worker-{app_name}")
    metrics = StreamMetrics(app_name, topics=[settings.source_topic(d) for d in DOMAINS[app_name]])
    if settings.metrics_port:
        start_http_server(settings.metrics_port, registry=metrics.registry)
    app, engine = build_app(app_name, platform, settings, worker_id, metrics)
    if settings.gc_threshold:
        settle_heap(settings.gc_threshold)
    try:
        worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
        worker.execute_from_commandline()
    finally:
        engine.dispose()
        if _RESTART.is_set():
            restart_in_place()
