"""The outbox writer's settings: read at a composition root (the edges, the sender, the
reactor, the demo) and handed to `OutboxWriter.from_settings` (or `OutboxConfig.from_settings`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OutboxSettings(BaseSettings):
    """Knobs of every `OutboxWriter` (no prefix: the names are the environment variables,
    upper-cased: `NMC_OUTBOX_*`, `NMC_DUAL_PUBLISH`, `NMC_RETIRED_MAJORS`)."""

    model_config = SettingsConfigDict(env_prefix="", frozen=True, extra="ignore")

    nmc_outbox_max_future_s: float = Field(
        default=3000.0,
        gt=0,
        description="The outbox writer refuses an occurred_at further ahead than this (the "
        "broker's 1 h limit minus a margin for clock skew).",
    )
    nmc_outbox_store_values: bool = Field(
        default=True,
        description="The outbox writer stores each row's Confluent-framed Avro value "
        "(avro_value) once it knows the subject's schema id, so the relay need not encode it.",
    )
    nmc_outbox_schema_id_retry_s: float = Field(
        default=30.0,
        gt=0,
        description="The writer looks an unknown subject's schema id up again after this long "
        "(in the background; its rows are stored without a value meanwhile).",
    )
    nmc_dual_publish: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Transition windows of major changes, as JSON: event name -> the majors "
        "one outbox-writer call writes, e.g. {\"nmc.telephony.CallDetected\": [1, 2]}. Each "
        "major is its own row (same event_id and key, so the same partition and per-key "
        "order; its own schema_version), derived through the newer file's "
        "`nmc.previous_major`. Removing the entry closes the window: only the event's own "
        "major is written.",
    )
    nmc_retired_majors: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Majors no longer written, as JSON: event name -> majors, e.g. "
        "{\"nmc.telephony.CallDetected\": [1]}. The outbox writer refuses an event of a "
        "retired major and leaves it out of a dual-publish window (`nmc schemas retire` "
        "checks it is safe and prints the value to set).",
    )
