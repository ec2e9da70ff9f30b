"""Composition root of `nmc reactor`."""

from __future__ import annotations

import logging
import signal
import threading
import time
from http.server import ThreadingHTTPServer
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, Producer

from nmc.contract.dead_letter import dlq_topic, replay_topic
from nmc.infra import probe_http, tracing
from nmc.infra.avro_decoder import registry_decoder
from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import consumer_config, ensure_topics, producer_config
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import ServiceSettings
from producers.conversation.reactions.consumer import ConversationReactor
from producers.conversation.reactions.metrics import ReactorMetrics
from producers.conversation.reactions.settings import ReactorSettings
from producers.outbox import OutboxWriter

log = logging.getLogger(__name__)


def run_reactor(
    settings: ServiceSettings,
    knobs: ReactorSettings,
    stop: threading.Event | None = None,
    assigned: threading.Event | None = None,
    *,
    writer: OutboxWriter,
) -> None:
    """The reactor until `stop`: `settings` say where Kafka, the registry and the database
    are, `knobs` (built by the composition root: `nmc reactor`, the demo) how it consumes
    and reacts, `writer` (built by the same root from `OutboxSettings`, sharing its registry
    lookups) appends the reactions' events."""
    stop = stop or threading.Event()
    tracing.configure("nmc-reactor")

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    group = knobs.group
    ensure_topics(settings)
    ensure_topics(settings, [dlq_topic(group), replay_topic(group)])
    registry = registry_client(settings)
    engine = make_engine(settings.database)
    metrics = ReactorMetrics()
    extra: dict[str, Any] = {}
    if knobs.metrics_port:  # lag from librdkafka's statistics (no broker call)
        extra = {"statistics.interval.ms": knobs.lag_interval_ms,
                 "stats_cb": metrics.on_stats}
    consumer = Consumer(consumer_config(
        settings, group, **{"enable.auto.commit": True, "enable.auto.offset.store": False,
                            "auto.offset.reset": knobs.offset_reset,
                            "session.timeout.ms": knobs.session_timeout_ms},
        **extra))
    reactor = ConversationReactor(
        consumer, registry_decoder(registry), engine, Producer(producer_config(settings)),
        group, knobs.max_attempts, knobs.retry_max_s,
        metrics=metrics,
        batch_max=knobs.batch_max,
        batch_wait_s=knobs.batch_wait_ms / 1000,
        crash_after_batches=knobs.crash_after_batches,
        crash_point=knobs.crash_point,
        writer=writer,
    )
    server = serve_metrics(knobs, metrics)
    log.info("reactor started (group %s)", group)
    try:
        reactor.run(stop, assigned)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        engine.dispose()
        registry.close()


def serve_metrics(knobs: ReactorSettings,
                  metrics: ReactorMetrics) -> ThreadingHTTPServer | None:
    """`/metrics` and `/healthz` on `NMC_REACTIONS_METRICS_PORT` (None when it is 0)."""
    if not knobs.metrics_port:
        return None

    def health() -> tuple[bool, dict[str, Any]]:
        idle = time.monotonic() - metrics.last_turn
        return idle < knobs.stale_after_s, {
            "last_turn_s_ago": round(idle, 3), "partitions": len(metrics.partitions)}

    return probe_http.serve(knobs.metrics_port, metrics.registry, health,
                            "reactor")
