"""The platform's shared settings: the services to reach (`ServiceSettings`).

Components with knobs of their own keep their own typed settings in their own package
(`RelaySettings`, `OutboxSettings`, `StackSettings`, `EdgeSettings`, `SenderSettings`,
`ReactorSettings`, `ApiSettings`, `StreamSettings`, `ConnectSettings`), built at their
composition root; every field carries a description, rendered into docs/reference/settings.md by
`nmc docs build` (a test fails on a field without one). Names are the environment variables,
upper-cased.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

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


class ServiceSettings(BaseSettings):
    """The services every process reaches, and how its clients talk to them.

    The one small settings object shared by every composition root (the relay, the reactor,
    the edges, the sender, the stream workers, the read API, the CLI): where Kafka, the
    Schema Registry and PostgreSQL are, their TLS/SASL (`connection`), the topic layout and
    the client knobs every producer and registry client shares. Each component reads its own
    knobs from its own class (`RelaySettings`, `OutboxSettings`, `StackSettings`, ...), built
    at its composition root and handed in beside this one.

    `kafka_bootstrap_servers`, `schema_registry_url` and `database_url` left unset mean
    "use the local stack" (started by `nmc stack up`, listening on the `nmc_*_port`s below);
    set, they point at external services and the project starts nothing.
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

    # --- where the local stack's services listen (when the three above are unset) ----------
    nmc_home: Path = Field(
        default=PROJECT_ROOT / ".nmc", description="Cache, data and logs of the local stack, and "
        "the stream workers' local state (`streams/<app>/<worker>`)."
    )
    nmc_kafka_port: int = Field(default=9092, description="Client port of the local broker.")
    nmc_registry_port: int = Field(
        default=8081, description="Local registry port (its management port is this + 1000)."
    )
    nmc_postgres_port: int = Field(default=5432, description="Local PostgreSQL port.")
    nmc_stack_brokers: int = Field(
        default=1, ge=1, le=5, description="Local KRaft nodes (combined broker+controller); "
        "node i listens on NMC_KAFKA_PORT + 2(i-1) and NMC_KAFKA_CONTROLLER_PORT + 2(i-1)."
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
    nmc_producer_linger_ms: int = Field(default=5, ge=0, description="Producer linger.ms.")

    def service_fields(self) -> dict[str, Any]:
        """This object's `ServiceSettings` fields, to build another component's settings that
        reaches the same services (`Settings(**stack.service_fields(), ...)`)."""
        return {name: getattr(self, name) for name in ServiceSettings.model_fields}

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
    def uses_local_kafka(self) -> bool:
        return self.kafka_bootstrap_servers is None

    @property
    def uses_local_registry(self) -> bool:
        return self.schema_registry_url is None

    @property
    def uses_local_database(self) -> bool:
        return self.database_url is None


Settings = ServiceSettings
"""The transitional name of `ServiceSettings` (the flat class it once was): every component
reads its own class (`RelaySettings`, `OutboxSettings`, `StackSettings`, `ReactorSettings`,
...); nothing is left in it but the services."""


@lru_cache(maxsize=1)
def get_settings() -> ServiceSettings:
    """The process's settings, read once: for composition roots only (the CLI commands,
    bench, tests' fixtures); library code takes what its root hands in
    (`tests/unit/test_settings_roots.py`)."""
    return ServiceSettings()
