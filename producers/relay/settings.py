"""The outbox relay's settings (`nmc relay`): its own knobs, read at its composition root.

The relay also needs the services (`nmc.infra.settings.ServiceSettings`: Kafka, the
registry, the platform's database URL); its root builds both and hands them to
`producers.relay.app.run_relay`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from nmc.infra.settings import ServiceSettings


class RelaySettings(BaseSettings):
    """Knobs of `nmc relay` (no prefix: the names are the environment variables, upper-cased:
    `NMC_RELAY_*` and `NMC_KAFKA_TIMESTAMP_AFTER_MAX_S`)."""

    model_config = SettingsConfigDict(env_prefix="", frozen=True, extra="ignore")

    nmc_relay_batch_size: int = Field(
        default=1000, ge=1, le=50_000, description="Rows a relay fetches and publishes per batch."
    )
    nmc_relay_poll_interval_s: float = Field(
        default=1.0, gt=0, description="How often the relay rebalances its lane leases."
    )
    nmc_relay_idle_poll_min_s: float = Field(
        default=0.005, gt=0, description="The relay's sleep after a partial batch and its first "
        "sleep once idle (it asks again at once after a full batch).",
    )
    nmc_relay_idle_poll_max_s: float = Field(
        default=0.02, gt=0, description="Cap of the idle sleep, doubled per empty poll from "
        "the minimum: the worst added commit -> publish latency of an idle relay.",
    )
    nmc_relay_flush_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Wait for Kafka acks per batch (also the producer's delivery.timeout.ms).",
    )
    nmc_relay_retention_s: float = Field(
        default=3600.0, ge=0, description="Published rows older than this are deleted."
    )
    nmc_relay_cleanup_interval_s: float = Field(
        default=30.0, gt=0, description="How often retention and backlog metrics run."
    )
    nmc_relay_metrics_port: int = Field(
        default=0,
        ge=0,
        description="HTTP port of `nmc relay`: Prometheus /metrics and the /healthz probe; "
        "0 disables it.",
    )
    nmc_relay_max_backoff_s: float = Field(
        default=30.0,
        gt=0,
        description="Cap of the exponential, full-jitter backoff of the relay (publish retries "
        "and reconnecting to PostgreSQL or Kafka).",
    )
    nmc_relay_stale_after_s: float = Field(
        default=120.0,
        gt=0,
        description="`/healthz` answers 503 when the relay loop has not turned for this long.",
    )
    nmc_relay_database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL of the relay: a role that may only read and "
        "settle the outbox (the local stack's `nmc_relay`); unset = DATABASE_URL.",
    )
    nmc_relay_connect_timeout_s: float = Field(
        default=5.0, gt=0, description="PostgreSQL connect timeout of the relay."
    )
    nmc_kafka_timestamp_after_max_s: float = Field(
        default=3600.0,
        ge=0,
        description="The broker's log.message.timestamp.after.max.ms (in seconds): the relay parks "
        "a row whose occurred_at is further ahead before producing it (0: no pre-check).",
    )
    nmc_relay_version_retry_s: float = Field(
        default=30.0,
        gt=0,
        description="A row whose schema_version the relay cannot resolve (neither its "
        "schemas-avro/ nor the registry has it) is parked and put back in line after this "
        "long, doubling per attempt (at most 32x); its key waits behind it.",
    )
    nmc_relay_version_max_attempts: int = Field(
        default=12,
        ge=1,
        description="Attempts before such a row stays parked for an operator "
        "(`nmc outbox retry|skip`).",
    )

    def relay_database(self, services: ServiceSettings) -> str:
        """The relay's database URL (NMC_RELAY_DATABASE_URL, else the platform's)."""
        if self.nmc_relay_database_url is not None:
            return self.nmc_relay_database_url.get_secret_value()
        return services.database
