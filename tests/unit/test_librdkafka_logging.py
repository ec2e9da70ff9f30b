"""librdkafka's own log lines go through `logging` (a file in the demo), not straight to stderr.

No service is started: a producer pointed at a closed local port logs its connection failure.
"""

from __future__ import annotations

import logging
import time

import pytest
from confluent_kafka import Producer
from support.settings import PlatformSettings as Settings

from nmc.infra.kafka_clients import LIBRDKAFKA_LOG, producer_config


def test_librdkafka_logs_reach_the_python_logger(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1")
    caplog.set_level(logging.DEBUG, logger=LIBRDKAFKA_LOG.name)
    producer = Producer(producer_config(settings, **{"reconnect.backoff.max.ms": 100}))
    deadline = time.monotonic() + 10
    while not caplog.records and time.monotonic() < deadline:
        producer.poll(0.2)
    del producer
    assert any(r.name == LIBRDKAFKA_LOG.name for r in caplog.records)
    assert "%3|" not in capfd.readouterr().err
