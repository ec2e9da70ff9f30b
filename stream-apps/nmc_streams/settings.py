"""Settings of the stream apps (env prefix ``NMC_STREAMS_``); the platform's own `Settings`
(Kafka, registry, database, nmc_home, partition count) is read through `nmc.infra.settings`."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StreamSettings(BaseSettings):
    """Knobs of `nmc worker <app>`; every field can be set as NMC_STREAMS_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="NMC_STREAMS_", frozen=True, extra="ignore")

    app_id_prefix: str = Field(
        default="nmc-streams",
        description="Faust app id = consumer group = `<prefix>-<app>`; DLQ `nmc.dlq.<group>`.",
    )
    topic_suffix: str = Field(
        default="",
        description="Appended to every source topic (`nmc.<domain><suffix>`); tests and the "
        "benchmark use it to read isolated copies of the domain topics.",
    )
    batch_max_events: int = Field(
        default=1000, ge=1, description="Most events an agent takes into one batch."
    )
    batch_within_ms: int = Field(
        default=50,
        ge=1,
        description="How long an agent waits to fill a batch before it processes what it has "
        "(the floor of read-model freshness under light load).",
    )
    retry_base_s: float = Field(
        default=0.2, gt=0, description="First backoff ceiling of transient-failure retries."
    )
    retry_max_s: float = Field(
        default=10.0, gt=0, description="Backoff ceiling cap; transient failures retry forever."
    )
    stall_check_s: float = Field(
        default=30.0,
        gt=0,
        description="How often a worker checks that it is not stalled (its group's commits "
        "short of a partition's end with no batch for this long); a stalled worker logs it, "
        "seeks and resumes, and restarts itself when still stalled at the next check.",
    )
    restart_on_stall: bool = Field(
        default=True,
        description="Restart the worker process in place (same pid) when seeking did not "
        "end a stall; false leaves that to a supervisor.",
    )
    crash_after_batches: int = Field(
        default=0,
        ge=0,
        description="Fault injection for kill tests only: SIGKILL the worker itself at "
        "`crash_point` of its N-th batch (0 = never).",
    )
    crash_point: str = Field(
        default="after-commit",
        pattern="^(before-write|after-commit|after-ack|pause|wedge)$",
        description="Where `crash_after_batches` strikes: SIGKILL before-write, after-commit "
        "(before the acknowledgement) or after-ack; `pause` stops fetching every partition "
        "(a stall a seek cures), `wedge` stops the agent taking batches (one only a restart "
        "cures); for the watchdog tests.",
    )
    gc_threshold: int = Field(
        default=50_000,
        ge=0,
        description="Allocations between two young-generation garbage collections (CPython's "
        "default is 700, which made full collections a quarter of a batch's time); start-up "
        "objects are frozen out of every collection. 0 keeps the interpreter's defaults.",
    )
    metrics_port: int = Field(default=0, ge=0, description="Prometheus port; 0 disables it.")
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL of the workers: a role that owns the read "
        "models and nothing else (the local stack's `nmc_streams`); unset = DATABASE_URL.",
    )
    commit_interval_s: float = Field(default=1.0, gt=0, description="Offset commit interval.")
    log_level: str = Field(default="warn", description="crit|error|warn|info|debug")
    session_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Consumer group session timeout: how soon a killed worker's partitions move.",
    )

    def app_id(self, app: str) -> str:
        return f"{self.app_id_prefix}-{app}"

    def source_topic(self, domain: str) -> str:
        return f"nmc.{domain}{self.topic_suffix}"
