"""Settings of `nmc reactor` (env prefix ``NMC_REACTIONS_``); the services it reaches (Kafka,
registry, database, connection security) are `nmc.infra.settings.ServiceSettings`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReactorSettings(BaseSettings):
    """Knobs of the reactor; every field can be set as NMC_REACTIONS_<FIELD>. Built once by
    its composition root (`nmc reactor`, the demo) and handed to `run_reactor`."""

    model_config = SettingsConfigDict(env_prefix="NMC_REACTIONS_", frozen=True, extra="ignore")

    group: str = Field(
        default="nmc-conversation-reactions", description="Consumer group of `nmc reactor`."
    )
    max_attempts: int = Field(
        default=5, ge=1, description="Tries of a failing fact before it is dead-lettered."
    )
    retry_max_s: float = Field(
        default=10.0, gt=0, description="Cap of the reactor's full-jitter backoff between tries."
    )
    batch_max: int = Field(
        default=1000, ge=1, le=50_000, description="Most facts `nmc reactor` takes from its "
        "consumer at a time and writes in one transaction (two when the batch holds missed "
        "calls and other conversations' facts: the missed calls' conversations first).",
    )
    batch_wait_ms: int = Field(
        default=0, ge=0, description="How long the reactor waits for more facts after the first "
        "of a batch (0: it takes what the consumer already has, no added latency).",
    )
    session_timeout_ms: int = Field(
        default=10_000, ge=1_000, le=300_000, description="Consumer group session timeout of "
        "`nmc reactor`: how soon a killed reactor's partitions move to another one (the broker "
        "bounds it by group.min.session.timeout.ms).",
    )
    crash_after_batches: int = Field(
        default=0, ge=0, description="Fault injection for the kill tests only: SIGKILL the "
        "reactor at `NMC_REACTIONS_CRASH_POINT` of this batch (0: never).",
    )
    crash_point: str = Field(
        default="after-commit", pattern="^(before-write|after-commit|after-store)$",
        description="Where in the batch the injected SIGKILL strikes.",
    )
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="HTTP port of `nmc reactor`: Prometheus "
        "/metrics (`nmc_reactor_*`, scrape job `reactor`) and the /healthz probe; 0 disables it.",
    )
    lag_interval_ms: int = Field(
        default=1000, ge=100, description="How often the reactor's consumer reports its "
        "statistics, which refresh `nmc_reactor_lag_records` (only with a metrics port).",
    )
    stale_after_s: float = Field(
        default=120.0, gt=0, description="The reactor's `/healthz` answers 503 when its consume "
        "loop has not turned for this long (a batch stuck in retries, a wedged process).",
    )
    offset_reset: str = Field(
        default="latest",
        description="Where a new reactions group starts. 'latest': a first deployment must "
        "not text callers about last month's calls; later starts resume from committed offsets.",
    )
