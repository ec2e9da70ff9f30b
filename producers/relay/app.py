"""Composition root of `nmc relay`: reads settings once and wires the adapters."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from confluent_kafka import Producer
from prometheus_client import start_http_server

from nmc.contract.schemas import default_catalog
from nmc.kafka import ensure_topics, producer_config
from nmc.registry import registry_client
from nmc.settings import Settings
from producers.db import psycopg_dsn
from producers.relay.metrics import RelayMetrics
from producers.relay.publisher import KafkaPublisher
from producers.relay.relay import OutboxRelay
from producers.relay.store import OutboxStore

log = logging.getLogger(__name__)


def build_relay(settings: Settings, metrics: RelayMetrics | None = None) -> OutboxRelay:
    store = OutboxStore(psycopg_dsn(settings.database))
    publisher = KafkaPublisher(
        Producer(producer_config(settings)),
        registry_client(settings),
        default_catalog(),
        settings.nmc_relay_flush_timeout_s,
    )
    return OutboxRelay(settings, store, publisher, metrics)


def run_relay(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop`); creates missing topics first."""
    stop = stop or threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current batch", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    created = ensure_topics(settings)
    if created:
        log.info("created topics %s", created)
    relay = build_relay(settings)
    if settings.nmc_relay_metrics_port:
        start_http_server(settings.nmc_relay_metrics_port, registry=relay.metrics.registry)
    log.info("relay started (pid %d, batch %d)", os.getpid(), settings.nmc_relay_batch_size)
    try:
        relay.run(stop)
    finally:
        relay.close()
