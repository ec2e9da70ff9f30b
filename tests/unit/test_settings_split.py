"""The split of the one flat `Settings` into per-component classes (issue #27, item 4) changed
no variable: every variable the flat class read is read by exactly one component class, under
the same name, with the same default; the classes define no field twice. The reactor's knobs
went to `ReactorSettings` on main (prefix NMC_REACTIONS_, same variables); the flat class's
`nmc_postgres_metrics_port` (added on main) to `StackSettings`."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_settings import BaseSettings

from nmc.infra.settings import ServiceSettings
from nmc.stack.settings import StackSettings
from producers.conversation.reactions.settings import ReactorSettings
from producers.outbox.settings import OutboxSettings
from producers.relay.settings import RelaySettings

# What the flat `Settings` read before the split (its fields, `connection` aside).
BEFORE = [
    "database_url", "kafka_bootstrap_servers", "nmc_compatibility_level", "nmc_dual_publish",
    "nmc_home", "nmc_kafka_controller_port", "nmc_kafka_heap", "nmc_kafka_metrics_port",
    "nmc_kafka_port", "nmc_kafka_timestamp_after_max_s", "nmc_outbox_max_future_s",
    "nmc_outbox_schema_id_retry_s", "nmc_outbox_store_values", "nmc_postgres_metrics_port",
    "nmc_postgres_port",
    "nmc_producer_linger_ms", "nmc_prometheus_port", "nmc_prometheus_retention",
    "nmc_prometheus_scrape_interval_s", "nmc_reactions_batch_max", "nmc_reactions_batch_wait_ms",
    "nmc_reactions_crash_after_batches", "nmc_reactions_crash_point", "nmc_reactions_group",
    "nmc_reactions_lag_interval_ms", "nmc_reactions_max_attempts", "nmc_reactions_metrics_port",
    "nmc_reactions_offset_reset", "nmc_reactions_retry_max_s", "nmc_reactions_session_timeout_ms",
    "nmc_reactions_stale_after_s", "nmc_registry_heap", "nmc_registry_java", "nmc_registry_port",
    "nmc_registry_timeout_s", "nmc_relay_batch_size", "nmc_relay_cleanup_interval_s",
    "nmc_relay_connect_timeout_s", "nmc_relay_database_url", "nmc_relay_flush_timeout_s",
    "nmc_relay_idle_poll_max_s", "nmc_relay_idle_poll_min_s", "nmc_relay_max_backoff_s",
    "nmc_relay_metrics_port", "nmc_relay_poll_interval_s", "nmc_relay_retention_s",
    "nmc_relay_stale_after_s", "nmc_relay_version_max_attempts", "nmc_relay_version_retry_s",
    "nmc_retired_majors", "nmc_stack_brokers", "nmc_stack_oauth_jwks_url", "nmc_stack_secure",
    "nmc_start_timeout_s", "nmc_topic_partitions", "nmc_topic_replication", "schema_registry_url",
]

COMPONENTS: tuple[type[BaseSettings], ...] = (
    ServiceSettings, StackSettings, RelaySettings, OutboxSettings, ReactorSettings)


def prefix(cls: type[BaseSettings]) -> str:
    return str(cls.model_config.get("env_prefix", "")).lower()


def own_fields(cls: type[BaseSettings]) -> set[str]:
    """Fields `cls` declares itself (not those it inherits from another settings class)."""
    inherited = {name for base in cls.__mro__[1:]
                 if issubclass(base, BaseSettings) and base is not BaseSettings
                 for name in base.model_fields}
    return set(cls.model_fields) - inherited - {"connection"}


def test_every_variable_of_the_flat_class_has_exactly_one_component() -> None:
    owners: dict[str, list[str]] = {}
    for cls in COMPONENTS:
        for name in own_fields(cls):  # the variable: the prefix and the field's name
            owners.setdefault(prefix(cls) + name, []).append(cls.__name__)
    assert {n: o for n, o in owners.items() if len(o) > 1} == {}  # no field twice
    assert sorted(owners) == sorted(BEFORE)


@pytest.mark.parametrize(("variable", "value", "cls", "expected"), [
    ("NMC_RELAY_BATCH_SIZE", "77", RelaySettings, 77),
    ("NMC_KAFKA_TIMESTAMP_AFTER_MAX_S", "12", RelaySettings, 12.0),
    ("NMC_DUAL_PUBLISH", '{"nmc.telephony.CallDetected": [1, 2]}', OutboxSettings,
     {"nmc.telephony.CallDetected": [1, 2]}),
    ("NMC_STACK_SECURE", "true", StackSettings, True),
    ("NMC_TOPIC_PARTITIONS", "12", ServiceSettings, 12),
    ("NMC_POSTGRES_METRICS_PORT", "9999", StackSettings, 9999),
    ("NMC_REACTIONS_GROUP", "g", ReactorSettings, "g"),
])
def test_a_variable_reaches_its_component_under_its_old_name(
        monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
        cls: type[BaseSettings], expected: Any) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(cls(), variable.lower().removeprefix(prefix(cls))) == expected


def test_the_stack_reads_the_services_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.test:9092")
    assert StackSettings().kafka == ServiceSettings().kafka == "kafka.test:9092"
    assert not StackSettings().uses_local_kafka


def test_no_component_shadows_another_s_names() -> None:
    """Fields, properties and methods of the component classes are distinct, so an object that
    is several of them at once (the tests' `PlatformSettings`) means each one's attribute."""
    def names(cls: type[BaseSettings]) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")} - {"model_config"} \
            | own_fields(cls)
    seen: dict[str, str] = {}
    clashes = []
    for cls in (c for c in COMPONENTS if not prefix(c)):  # the tests' PlatformSettings
        for name in names(cls):
            if name in seen:
                clashes.append(f"{name}: {seen[name]} and {cls.__name__}")
            seen[name] = cls.__name__
    assert clashes == []
