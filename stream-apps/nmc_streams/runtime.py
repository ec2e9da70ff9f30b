"""Composition root of a stream app: Faust app, source topics, batching agent, DLQ, metrics.

It only composes: what the app is comes from its definition (`nmc_streams.apps`), and each
collaborator from its own module — the projector (`batch.py`), the PostgreSQL store
(`postgres_store.py`), the dead-letter sink (`dead_letters.py`), the stall watchdog
(`watchdog.py`), the in-place restart (`restart.py`) and the fault points (`faults.py`).

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

import os
import socket
import time
from collections.abc import Mapping
from typing import Any

import faust
from confluent_kafka.admin import AdminClient
from sqlalchemy import Engine

from nmc.contract.dead_letter import dlq_topic, replay_topic
from nmc.infra import probe_http, tracing
from nmc.infra.avro_decoder import registry_decoder
from nmc.infra.faust_broker import faust_broker, faust_credentials
from nmc.infra.heap import settle_heap
from nmc.infra.kafka_clients import admin_config, ensure_topics
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import ServiceSettings
from nmc_streams import db
from nmc_streams.apps import app_named
from nmc_streams.batch import BatchProjector, Record
from nmc_streams.dead_letters import FaustDeadLetterSink
from nmc_streams.faults import crash_here, wedge_here
from nmc_streams.flows import PAYLOAD_MAJOR
from nmc_streams.metrics import StreamMetrics
from nmc_streams.postgres_store import PostgresStateStore
from nmc_streams.restart import request_restart, restart_in_place, restart_requested
from nmc_streams.settings import StreamSettings
from nmc_streams.watchdog import BatchClock, StallWatchdog


def _headers(raw: Any) -> dict[str, str]:
    items = raw.items() if isinstance(raw, Mapping) else (raw or [])
    return {
        str(k): v.decode(errors="replace") if isinstance(v, bytes) else str(v) for k, v in items
    }


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def build_app(
    app_name: str,
    platform: ServiceSettings,
    settings: StreamSettings,
    worker_id: str,
    metrics: StreamMetrics,
) -> tuple[Any, Engine]:
    """Wire one stream app; nothing connects until the Faust worker starts it."""
    definition = app_named(app_name)
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
        *(settings.source_topic(d) for d in definition.domains),
        replay_topic(app_id),
        key_serializer="raw",
        value_serializer="raw",
    )
    dlq = app.topic(dlq_topic(app_id), key_serializer="raw", value_serializer="raw")
    engine = db.worker_engine(settings.database_url.get_secret_value()
                              if settings.database_url is not None else platform.database)
    decode = registry_decoder(registry_client(platform), PAYLOAD_MAJOR)
    projector = BatchProjector(
        app_name,
        definition.model,
        PostgresStateStore(engine, app_name),
        decode,
        FaustDeadLetterSink(dlq, engine, app_id, app_name),
        metrics,
        retry_base_s=settings.retry_base_s,
        retry_max_s=settings.retry_max_s,
    )
    batches = 0
    clock = BatchClock()

    @app.agent(source, concurrency=1, name=f"{app_name}-batches")
    async def process(stream: Any) -> None:
        nonlocal batches
        within = settings.batch_within_ms / 1000
        async for events in stream.noack_take(settings.batch_max_events, within):
            started = time.perf_counter()
            batches += 1
            clock.started()
            crash_here(settings, "before-write", batches, app.consumer)
            await projector.handle([_record(event) for event in events])
            crash_here(settings, "after-commit", batches, app.consumer)
            for event in events:
                await stream.ack(event)
            clock.done()
            crash_here(settings, "after-ack", batches, app.consumer)
            crash_here(settings, "pause", batches, app.consumer)
            await wedge_here(settings, batches)  # fault injection: the agent takes nothing more
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

    watchdog = StallWatchdog(app, app_name, app_id, AdminClient(admin_config(platform)),
                             settings, metrics, clock, request_restart)
    app.timer(interval=settings.stall_check_s)(watchdog.check)
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


def prepare_topics(app_name: str, platform: ServiceSettings, settings: StreamSettings) -> None:
    """Create missing source, DLQ and replay topics (verified: equal partition counts, leaders
    elected) before any agent subscribes."""
    topics = [settings.source_topic(d) for d in app_named(app_name).domains]
    app_id = settings.app_id(app_name)
    ensure_topics(platform, [*topics, dlq_topic(app_id), replay_topic(app_id)])


def serve_probes(port: int, metrics: StreamMetrics, worker_id: str) -> None:
    """`/metrics` and a liveness `/healthz` on `port` (a thread, like the other processes').
    A stalled worker is the watchdog's to act on (it seeks back, then restarts the process),
    so `/healthz` answers 200 while the process runs, with what identifies it."""

    def health() -> tuple[bool, dict[str, object]]:
        return True, {"app": metrics.app, "worker_id": worker_id}

    probe_http.serve(port, metrics.registry, health, f"worker-{metrics.app}")


def run_worker(
    app_name: str,
    platform: ServiceSettings,
    settings: StreamSettings,
    worker_id: str,
) -> None:
    """Run one worker process until SIGTERM/SIGINT (what `nmc worker <app>` calls)."""
    prepare_topics(app_name, platform, settings)
    tracing.configure(f"nmc-worker-{app_name}")
    metrics = StreamMetrics(
        app_name, topics=[settings.source_topic(d) for d in app_named(app_name).domains])
    if settings.metrics_port:
        serve_probes(settings.metrics_port, metrics, worker_id)
    app, engine = build_app(app_name, platform, settings, worker_id, metrics)
    if settings.gc_threshold:
        settle_heap(settings.gc_threshold)
    try:
        worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
        worker.execute_from_commandline()
    finally:
        engine.dispose()
        if restart_requested():
            restart_in_place()
