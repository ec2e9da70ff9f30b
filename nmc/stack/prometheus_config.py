"""What the local Prometheus scrapes and loads (pure): scrape jobs from the settings, its
configuration file, its command line, and the target files processes are added by.

Processes of ours are found two ways: a metrics port set in the settings (static targets), and
target files `<targets>/<job>*.json` (Prometheus' `file_sd`, re-read on change) written by
whoever starts processes on ports of its own choosing (`make demo`, tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nmc.infra.settings import PROJECT_ROOT
from nmc.stack.render import registry_management_port
from nmc.stack.settings import StackSettings

RULES_DIR = PROJECT_ROOT / "deploy" / "prometheus" / "rules"
PROCESS_JOBS = ("relay", "streams", "api", "edge", "reactor", "sender", "connect")
"""Scrape jobs of our own processes; the alert NmcTargetDown selects on these names."""
KAFKA_JOB = "kafka"
"""The brokers' JMX exporters (one target file per node, written by `nmc stack up` for a node
that runs the agent); the alert NmcKafkaDown selects on it."""
POSTGRES_JOB = "postgres"
"""The PostgreSQL exporter (`nmc.stack.postgres_exporter`; target file written by `nmc stack
up --observability` once it answers); NmcReplicationSlotPinningWal reads its series."""
TARGET_FILE_JOBS = (*PROCESS_JOBS, KAFKA_JOB, POSTGRES_JOB)


@dataclass(frozen=True)
class ScrapeJob:
    """One `scrape_configs` entry: static targets plus the job's target files."""

    name: str
    targets: tuple[str, ...] = ()
    metrics_path: str = "/metrics"
    file_sd: bool = True


@dataclass(frozen=True)
class ProcessPorts:
    """The /metrics ports of the platform's processes, each read from that process's own
    settings by the caller's root (`nmc stack up`); 0: none set (target files still work)."""

    relay: int = 0
    streams: int = 0
    sender: int = 0
    reactor: int = 0


NO_PORTS = ProcessPorts()


def local_jobs(settings: StackSettings, ports: ProcessPorts = NO_PORTS) -> list[ScrapeJob]:
    """The jobs of the local stack: Prometheus itself, the local registry's management
    interface, every process job (static targets where a metrics port is set), and the Kafka
    nodes and the PostgreSQL exporter (target files only)."""
    static = {"relay": ports.relay, "streams": ports.streams, "sender": ports.sender,
              "reactor": ports.reactor}
    jobs = [ScrapeJob("prometheus", (f"127.0.0.1:{settings.nmc_prometheus_port}",),
                      file_sd=False)]
    if settings.uses_local_registry:
        jobs.append(ScrapeJob("registry", (f"127.0.0.1:{registry_management_port(settings)}",),
                              file_sd=False))
    for name in PROCESS_JOBS:
        port = static.get(name, 0)
        jobs.append(ScrapeJob(name, (f"127.0.0.1:{port}",) if port else ()))
    jobs.append(ScrapeJob(KAFKA_JOB))  # target files: only nodes started with the agent
    jobs.append(ScrapeJob(POSTGRES_JOB))  # target file: only an exporter that runs
    return jobs


def render_config(
    jobs: Iterable[ScrapeJob],
    *,
    rule_files: Sequence[Path],
    targets_dir: Path,
    scrape_interval_s: float,
    evaluation_interval_s: float,
) -> str:
    """prometheus.yml as JSON (a subset of YAML that Prometheus reads), stable for diffing."""
    scrape_configs = []
    for job in jobs:
        entry: dict[str, object] = {"job_name": job.name, "metrics_path": job.metrics_path}
        if job.targets:
            entry["static_configs"] = [{"targets": list(job.targets)}]
        if job.file_sd:
            entry["file_sd_configs"] = [{
                "files": [str(targets_dir / f"{job.name}*.json")],
                "refresh_interval": _duration(max(scrape_interval_s, 1.0)),
            }]
        scrape_configs.append(entry)
    config = {
        "global": {
            "scrape_interval": _duration(scrape_interval_s),
            "scrape_timeout": _duration(min(scrape_interval_s, 10.0)),
            "evaluation_interval": _duration(evaluation_interval_s),
        },
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": scrape_configs,
    }
    return json.dumps(config, indent=2) + "\n"


def render_targets(addresses: Iterable[str], labels: dict[str, str] | None = None) -> str:
    """A `file_sd` target file: `[{"targets": [...], "labels": {...}}]`."""
    group: dict[str, object] = {"targets": sorted(addresses)}
    if labels:
        group["labels"] = dict(sorted(labels.items()))
    return json.dumps([group], indent=2) + "\n"


def write_targets(targets_dir: Path, job: str, name: str, addresses: Iterable[str]) -> Path:
    """Add processes to a job (atomically: Prometheus may read the file any time); returns
    the file, which its writer removes when the processes stop."""
    if job not in TARGET_FILE_JOBS:
        raise ValueError(f"unknown scrape job {job!r}; one of {TARGET_FILE_JOBS}")
    targets_dir.mkdir(parents=True, exist_ok=True)
    path = targets_dir / f"{job}-{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_targets(addresses))
    tmp.replace(path)
    return path


def remove_targets(targets_dir: Path, job: str, name: str) -> None:
    """Drop what `write_targets(targets_dir, job, name, ...)` added (absent: nothing to do)."""
    (targets_dir / f"{job}-{name}.json").unlink(missing_ok=True)


def prometheus_command(
    binary: str, *, config: Path, data: Path, port: int, retention: str
) -> list[str]:
    """Debian's `prometheus` on loopback; `--web.enable-lifecycle` lets `up` reload it."""
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--storage.tsdb.retention.time={retention}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]


def _duration(seconds: float) -> str:
    """Prometheus duration: whole milliseconds (`1500ms`) or seconds (`15s`)."""
    millis = round(seconds * 1000)
    if millis <= 0:
        raise ValueError(f"duration must be positive, got {seconds!r}")
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"
