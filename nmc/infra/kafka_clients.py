"""librdkafka configuration, built in exactly one place, and topic administration."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from nmc.contract.schemas import DOMAINS, topic_for
from nmc.infra.connection import librdkafka_security
from nmc.infra.settings import ServiceSettings
from nmc.infra.topics import layout_problem

# librdkafka writes its own log lines (`%4|...|GETPID|...`) straight to stderr unless a logger is
# configured; through `logging` they land wherever the process sends its logs (the demo: a file).
LIBRDKAFKA_LOG = logging.getLogger("nmc.librdkafka")


# librdkafka's delivery.timeout.ms of every producer but the relay's (which takes its own).
DELIVERY_TIMEOUT_MS = 30_000


class TopicLayoutError(RuntimeError):
    """Existing topics do not have the partition count the co-partitioning contract needs."""


def client_config(settings: ServiceSettings) -> dict[str, Any]:
    """What every librdkafka client shares: where the brokers are and how to authenticate.

    The one place the connection settings become librdkafka properties; producer, consumer
    and admin configurations all start from it. Holds secrets: never log it.
    """
    return {
        "bootstrap.servers": settings.kafka,
        "logger": LIBRDKAFKA_LOG,
        **librdkafka_security(settings.connection),
    }


def producer_config(settings: ServiceSettings, **overrides: Any) -> dict[str, Any]:
    """Idempotent, acks=all, Java-compatible partitioning (DESIGN.md §2). The relay sets its
    own `delivery.timeout.ms` (NMC_RELAY_FLUSH_TIMEOUT_S) through `overrides`."""
    config: dict[str, Any] = {
        **client_config(settings),
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": settings.nmc_producer_linger_ms,
        "compression.type": "lz4",
        "delivery.timeout.ms": DELIVERY_TIMEOUT_MS,
    }
    config.update(overrides)
    return config


def consumer_config(settings: ServiceSettings, group_id: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        **client_config(settings),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    }
    config.update(overrides)
    return config


def admin_config(settings: ServiceSettings) -> dict[str, Any]:
    return client_config(settings)


def domain_topics() -> list[str]:
    return [topic_for(d) for d in DOMAINS]


def ensure_topics(
    settings: ServiceSettings,
    topics: Iterable[str] | None = None,
    config: Mapping[str, str] | None = None,
) -> list[str]:
    """Create missing domain topics (with `config`, topic-level settings such as
    `retention.ms`); refuse existing ones with a different partition count."""
    wanted = list(topics or domain_topics())
    admin = AdminClient(admin_config(settings))
    existing = admin.list_topics(timeout=15).topics
    partitions = settings.nmc_topic_partitions
    problem = layout_problem(
        {t: len(existing[t].partitions) for t in wanted if t in existing}, partitions
    )
    if problem:
        raise TopicLayoutError(problem)
    missing = [t for t in wanted if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                t,
                num_partitions=partitions,
                replication_factor=settings.nmc_topic_replication,
                config=dict(config or {}),
            )
            for t in missing
        ]
    )
    for future in futures.values():
        try:
            future.result()
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    _wait_until_led(admin, missing, partitions)
    return missing


def _wait_until_led(
    admin: AdminClient, topics: list[str], partitions: int, timeout_s: float = 60.0
) -> None:
    """Until the broker's metadata lists every created topic with all its partitions led: a
    consumer that subscribes to a topic not yet in its metadata holds it with 0 partitions
    until its next metadata refresh (5 minutes by default)."""
    deadline = time.monotonic() + timeout_s
    while True:
        metadata = admin.list_topics(timeout=10).topics
        waiting = [
            t
            for t in topics
            if t not in metadata
            or len(metadata[t].partitions) != partitions
            or any(p.leader < 0 for p in metadata[t].partitions.values())
        ]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise TopicLayoutError(
                f"topics created but not ready after {timeout_s:.0f}s: {waiting}"
            )
        time.sleep(0.5)
