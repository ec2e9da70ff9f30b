"""The PostgreSQL exporter beside the local Prometheus: `nmc stack up --observability`.

Debian's `prometheus-postgres-exporter` (installed by scripts/install.sh; its own systemd unit
is left alone: the stack runs a process of its own) on loopback, `NMC_POSTGRES_METRICS_PORT`,
connected to the stack's database with the queries of `deploy/prometheus/postgres-queries.yml`
(`pg_replication_slots_pg_wal_lsn_diff`, read by NmcReplicationSlotPinningWal). Prometheus
finds it through the target file `postgres-stack.json` (scrape job `postgres`), written once
the exporter answers and removed when it stops, so a stack without it pages nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from nmc.infra.settings import PROJECT_ROOT
from nmc.stack import pidfile
from nmc.stack.layout import Layout
from nmc.stack.model import Say, ServiceName, ServiceStatus, Starting
from nmc.stack.procs import require_free, require_tool, spawn_detached, stop_owned
from nmc.stack.prometheus import targets_dir
from nmc.stack.prometheus_config import POSTGRES_JOB, remove_targets, write_targets
from nmc.stack.render import libpq_url
from nmc.stack.settings import StackSettings

NAME: ServiceName = "postgres-exporter"
BINARY = "prometheus-postgres-exporter"
QUERIES_FILE = PROJECT_ROOT / "deploy" / "prometheus" / "postgres-queries.yml"
TARGET_NAME = "stack"
"""The exporter's target file is `<targets>/postgres-stack.json`."""
STOP_TIMEOUT_S = 30.0
_LOOPBACK = ("", "127.0.0.1", "localhost", "::1", "[::1]")
_LISTEN_FLAG = "--web.listen-address="


# --- decisions (pure) ---------------------------------------------------------------------


def data_source_name(database_url: str) -> str:
    """The exporter's DATA_SOURCE_NAME: the libpq form of the stack's SQLAlchemy URL.

    The exporter's Go driver (lib/pq) requires TLS when the URL names no `sslmode` (libpq
    would only prefer it), which the local PostgreSQL does not offer: a loopback or socket
    address without `sslmode` gets `sslmode=disable`; any other keeps the driver's `require`.
    """
    url = libpq_url(database_url)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if "sslmode" in query:
        return url
    socket_host = query.get("host", [""])[0]
    local = (parts.hostname or "") in _LOOPBACK and (not socket_host or
                                                      socket_host.startswith("/"))
    if not local:
        return url
    return url + ("&" if parts.query else "?") + "sslmode=disable"


def exporter_command(binary: str, *, port: int, queries: Path) -> list[str]:
    """The exporter on loopback with the project's queries (connection from the environment,
    so the password stays out of `ps`)."""
    return [
        binary,
        f"{_LISTEN_FLAG}127.0.0.1:{port}",
        f"--extend.query-path={queries}",
    ]


def listen_port(cmdline: Sequence[str]) -> int | None:
    """The port a running exporter was started on (its command line), None if not ours."""
    for arg in cmdline:
        if arg.startswith(_LISTEN_FLAG):
            _, _, port = arg.rpartition(":")
            return int(port) if port.isdigit() else None
    return None


def target(port: int) -> str:
    return f"127.0.0.1:{port}"


# --- the process ---------------------------------------------------------------------------


def connected(port: int, timeout_s: float = 5.0) -> bool:
    """`/metrics` answers and the exporter reaches PostgreSQL (`pg_up 1`)."""
    try:
        response = httpx.get(f"http://{target(port)}/metrics", timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "\npg_up 1" in response.text


def start(settings: StackSettings, layout: Layout, say: Say) -> Starting | None:
    """Launch the exporter (or keep the one running) and add it to job `postgres` once it
    answers; None when `NMC_POSTGRES_METRICS_PORT` is 0 (its target file, if any, removed)."""
    port = settings.nmc_postgres_metrics_port
    record = pidfile.read(layout.pidfile(NAME))
    if record is not None and pidfile.is_alive(record):
        running_port = listen_port(pidfile.read_cmdline(record.pid)) or port
        say(f"postgres-exporter already running (pid {record.pid}) on {target(running_port)}")
        write_targets(targets_dir(layout), POSTGRES_JOB, TARGET_NAME, [target(running_port)])
        return _job(layout, record, running_port)
    pidfile.remove(layout.pidfile(NAME))
    if not port:
        remove_targets(targets_dir(layout), POSTGRES_JOB, TARGET_NAME)
        return None
    binary = require_tool(NAME, BINARY,
                          "scripts/install.sh: apt-get install prometheus-postgres-exporter")
    require_free(NAME, [port])
    say(f"starting postgres-exporter on {target(port)}...")
    popen = spawn_detached(exporter_command(binary, port=port, queries=QUERIES_FILE),
                           out=layout.log(NAME),
                           env={"DATA_SOURCE_NAME": data_source_name(settings.database)})
    record = pidfile.record_for(popen.pid)
    pidfile.write(layout.pidfile(NAME), record)
    job = _job(layout, record, port)
    job.popen = popen

    def add_target() -> None:
        write_targets(targets_dir(layout), POSTGRES_JOB, TARGET_NAME, [target(port)])

    job.after.append(add_target)
    return job


def stop_exporter(layout: Layout, say: Say) -> None:
    """Stop the exporter `start` launched (its pid file) and take it out of job `postgres`."""
    remove_targets(targets_dir(layout), POSTGRES_JOB, TARGET_NAME)
    stop_owned(layout.pidfile(NAME), NAME, STOP_TIMEOUT_S, say)


def status_row(settings: StackSettings, layout: Layout) -> ServiceStatus:
    """`nmc stack status`'s row: running (scrape job `postgres`), stopped, or off."""
    record = pidfile.read(layout.pidfile(NAME))
    pid = record.pid if record is not None and pidfile.is_alive(record) else None
    port = (listen_port(pidfile.read_cmdline(pid)) if pid else None) \
        or settings.nmc_postgres_metrics_port
    if pid:
        detail = "scrape job postgres"
    elif settings.nmc_postgres_metrics_port:
        detail = "up --observability"
    else:
        detail = "off (NMC_POSTGRES_METRICS_PORT=0)"
    return ServiceStatus(NAME, "running" if pid else "stopped",
                         target(port) if port else "", pid, layout.log(NAME), detail)


def _job(layout: Layout, record: pidfile.PidRecord, port: int) -> Starting:
    return Starting(name=NAME, record=record, healthy=lambda: connected(port),
                    logs=(layout.log(NAME),))
