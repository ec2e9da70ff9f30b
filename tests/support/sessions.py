"""How long a killed group member keeps its partitions in the tests: its session timeout.

A process killed -9 never leaves its consumer group; its partitions move to the member that
takes over only when the coordinator gives up on it, after `session.timeout.ms`. The tests that
kill a worker or a reactor use the shortest session the broker allows (its
`group.min.session.timeout.ms`; the local stack allows 1 s, a stock broker 6 s), but no less
than `TAKEOVER_FLOOR_MS`, so that a member starved of CPU on a busy machine is not
evicted between two heartbeats.
"""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from nmc.infra.kafka_clients import admin_config
from nmc.infra.settings import Settings, get_settings

TAKEOVER_FLOOR_MS = 3000
BROKER_DEFAULT_FLOOR_MS = 6000  # Kafka's group.min.session.timeout.ms default


_floors: dict[str, int] = {}  # by bootstrap servers: one question per broker and session


def _read_floor_ms(settings: Settings) -> int:
    admin = AdminClient(admin_config(settings))
    brokers = admin.list_topics(timeout=10).brokers
    resource = ConfigResource("BROKER", str(min(brokers)))
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    entry = configs.get("group.min.session.timeout.ms")
    return int(entry.value) if entry is not None and entry.value else BROKER_DEFAULT_FLOOR_MS


def takeover_session_ms(settings: Settings | None = None) -> int:
    """The session timeout (ms) for a group member a test will kill."""
    settings = settings or get_settings()
    if settings.kafka not in _floors:
        _floors[settings.kafka] = _read_floor_ms(settings)
    return max(TAKEOVER_FLOOR_MS, _floors[settings.kafka])
