"""What the outbox writer takes from its settings (`OutboxSettings`): `OutboxConfig`, built once
at a composition root and handed in (`OutboxWriter(config=...)`, `OutboxWriter.from_settings`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from confluent_kafka.schema_registry import SchemaRegistryClient

from producers.outbox.settings import OutboxSettings
from producers.outbox.values import StoredValues, registry_lookup


@dataclass(frozen=True)
class OutboxConfig:
    """The writer's knobs (each documented on its `OutboxSettings` field, `NMC_OUTBOX_*`,
    `NMC_DUAL_PUBLISH`, `NMC_RETIRED_MAJORS`)."""

    max_future_s: float
    dual_publish: Mapping[str, list[int]]
    retired: Mapping[str, list[int]]
    store_values: bool
    schema_id_retry_s: float

    @classmethod
    def defaults(cls) -> OutboxConfig:
        """The defaults of `OutboxSettings`' fields (no environment read: a bare writer's)."""
        return cls.from_settings(OutboxSettings.model_construct())

    @classmethod
    def from_settings(cls, settings: OutboxSettings) -> OutboxConfig:
        return cls(
            max_future_s=settings.nmc_outbox_max_future_s,
            dual_publish=settings.nmc_dual_publish,
            retired=settings.nmc_retired_majors,
            store_values=settings.nmc_outbox_store_values,
            schema_id_retry_s=settings.nmc_outbox_schema_id_retry_s,
        )


def stored_values(config: OutboxConfig,
                  registry: Callable[[], SchemaRegistryClient]) -> StoredValues | None:
    """A writer's stored-value encoder (its schema ids looked up through `registry`, in the
    background, starting now), or None when `config.store_values` is off. Share one per
    process: each looks every subject up once."""
    if not config.store_values:
        return None
    values = StoredValues(registry_lookup(registry), config.schema_id_retry_s)
    values.preload()
    return values
