"""Composition root of `nmc relay`: wires the adapters from the settings its caller read once
(`ServiceSettings` for the services, `RelaySettings` for the relay's own knobs)."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from confluent_kafka import KafkaException, Producer

from nmc.contract.schemas import SchemaCatalog, default_catalog
from nmc.infra import tracing
from nmc.infra.db import psycopg_dsn
from nmc.infra.kafka_clients import ensure_topics, producer_config
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import ServiceSettings
from producers.relay.backoff import until_done
from producers.relay.http import serve
from producers.relay.metrics import RelayMetrics
from producers.relay.publisher import HeldPolicy, KafkaLink, KafkaPublisher
from producers.relay.relay import OutboxRelay
from producers.relay.settings import RelaySettings
from producers.relay.store import OutboxStore
from producers.relay.versions import ConfluentVersions, WriterSchemas

log = logging.getLogger(__name__)


def build_relay(services: ServiceSettings, settings: RelaySettings,
                metrics: RelayMetrics | None = None,
                catalog: SchemaCatalog | None = None) -> OutboxRelay:
    """`catalog`: the relay's own schema files (default: the installed schemas-avro/)."""
    dsn = psycopg_dsn(settings.relay_database(services))
    timeout = settings.nmc_relay_connect_timeout_s
    store, settler = OutboxStore(dsn, timeout), OutboxStore(dsn, timeout)
    link = KafkaLink()
    registry = ConfluentVersions(registry_client(services))
    publisher = KafkaPublisher(
        Producer(producer_config(services, error_cb=link.on_error, **{
            "delivery.timeout.ms": int(settings.nmc_relay_flush_timeout_s * 1000)})),
        WriterSchemas(catalog or default_catalog(), registry),
        settings.nmc_relay_flush_timeout_s,
        settings.nmc_kafka_timestamp_after_max_s,
        link,
        held=HeldPolicy(settings.nmc_relay_version_retry_s,
                        settings.nmc_relay_version_max_attempts),
        registry=registry,
    )
    return OutboxRelay(settings, store, publisher, metrics, settler=settler)


def wait_for_topics(services: ServiceSettings, settings: RelaySettings, relay: OutboxRelay,
                    stop: threading.Event) -> bool:
    """Create missing topics, waiting (with backoff, and saying so) while Kafka is down."""

    def attempt() -> list[str]:
        return ensure_topics(services)

    def waiting(what: str) -> None:
        relay.health.waiting_for = what

    ok, created = until_done(
        stop, f"Kafka at {services.kafka}", attempt, (KafkaException,),
        settings.nmc_relay_max_backoff_s, waiting,
    )
    if ok:
        relay.health.kafka_connected = True
        relay.health.waiting_for = None
        if created:
            log.info("created topics %s", created)
    return ok


def run_relay(services: ServiceSettings, settings: RelaySettings,
              stop: threading.Event | None = None, relay: OutboxRelay | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop`); waits for Kafka and creates missing topics first.
    `relay`: one built by the caller (`build_relay` with its own catalog or metrics)."""
    stop = stop or threading.Event()
    tracing.configure("nmc-relay")

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current batch", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    relay = relay or build_relay(services, settings)
    server = None
    if settings.nmc_relay_metrics_port:
        server = serve(settings.nmc_relay_metrics_port, relay.metrics.registry, relay.health,
                       settings.nmc_relay_stale_after_s)
    try:
        if not wait_for_topics(services, settings, relay, stop):
            return
        log.info("relay started (pid %d, batch %d)", os.getpid(), settings.nmc_relay_batch_size)
        relay.run(stop)
    finally:
        relay.close()
        if server is not None:
            server.shutdown()
            server.server_close()
