"""Orchestration: bring the local stack up (idempotently), take it down, report its state."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from nmc.infra.connection import registry_http_auth
from nmc.infra.kafka_clients import admin_config
from nmc.stack import (
    apicurio,
    authz,
    health,
    kafka_broker,
    pidfile,
    postgres,
    postgres_exporter,
    prometheus,
)
from nmc.stack.errors import StackError
from nmc.stack.layout import Layout, parse_kafka_dir
from nmc.stack.model import (
    SERVICES,
    Say,
    ServiceName,
    ServiceStatus,
    Starting,
    address_of,
    local_services,
    registry_uses_sql,
)
from nmc.stack.procs import stop as stop_process
from nmc.stack.procs import stop_owned
from nmc.stack.prometheus_config import NO_PORTS, ProcessPorts
from nmc.stack.settings import StackSettings, get_versions
from nmc.stack.wait import until_healthy

STOP_TIMEOUT_S = 30.0
EXTERNAL_CHECK_TIMEOUT_S = 10.0


def _sayer(console: Console) -> Say:
    def say(message: str) -> None:
        console.print(f"[bold cyan]stack[/] {message}", highlight=False)

    return say


def ensure_up(
    settings: StackSettings, console: Console | None = None, *, observability: bool = False,
    ports: ProcessPorts = NO_PORTS,
) -> None:
    """Make every service usable: start the local ones that are not running, check the others;
    with `observability` also the PostgreSQL exporter (`nmc.stack.postgres_exporter`) and
    Prometheus (`nmc.stack.prometheus`), its configuration renewed.

    Healthy running services are left alone, so a second call returns in seconds.
    """
    say = _sayer(console or Console(stderr=True))
    layout = Layout.of(settings)
    layout.ensure_dirs()
    versions = get_versions()
    local = local_services(settings)
    began = time.monotonic()

    if local["postgres"]:
        postgres.ensure(settings, layout, say)
    jobs: list[tuple[Starting, float]] = []
    if local["kafka"]:
        nodes = kafka_broker.start(settings, versions, layout, say)
        jobs += [(job, time.monotonic()) for job in nodes]
    if local["registry"]:
        jobs.append((apicurio.start(settings, versions, layout, say), time.monotonic()))
    for job, started in jobs:
        until_healthy(job, settings.nmc_start_timeout_s, say, started)
    if local["kafka"] and settings.nmc_stack_secure:
        authz.provision(settings, layout, say)

    for name in SERVICES:
        if not local[name]:
            _check_external(settings, name, say)
    if observability:
        started = time.monotonic()
        exporter = postgres_exporter.start(settings, layout, say)
        if exporter is not None:
            until_healthy(exporter, settings.nmc_start_timeout_s, say, started)
        config = prometheus.write_config(settings, layout, ports=ports)
        started = time.monotonic()
        job = prometheus.start(settings, layout, say, config)
        until_healthy(job, settings.nmc_start_timeout_s, say, started)
    say(f"[green]stack up[/] in {time.monotonic() - began:.1f} s")


def _check_external(settings: StackSettings, name: ServiceName, say: Say) -> None:
    address = address_of(settings, name)
    probes: dict[ServiceName, Callable[[], bool]] = {
        "postgres": lambda: health.postgres_ok(settings.database, EXTERNAL_CHECK_TIMEOUT_S),
        "kafka": lambda: health.kafka_ok(admin_config(settings), EXTERNAL_CHECK_TIMEOUT_S),
        "registry": lambda: health.registry_ok(
            settings.registry, EXTERNAL_CHECK_TIMEOUT_S, registry_http_auth(settings.connection)
        ),
    }
    if not probes[name]():
        raise StackError(name, f"external service at {address} is not reachable")
    say(f"{name} is external ({escape(address)}): healthy")


def down(settings: StackSettings, console: Console | None = None,
         stop_timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop exactly what `ensure_up` started (via its pid files), registry first, postgres last;
    a service still running after `stop_timeout_s` is killed (0: at once, for a throw-away
    stack whose clean shutdown nobody needs)."""
    say = _sayer(console or Console(stderr=True))
    layout = Layout.of(settings)
    local = local_services(settings)
    kafka_nodes = sorted(p.stem for p in layout.run.glob("kafka*.pid"))
    stop_owned(layout.pidfile(prometheus.NAME), "prometheus", STOP_TIMEOUT_S, say)
    postgres_exporter.stop_exporter(layout, say)
    targets: list[tuple[ServiceName, str]] = [("registry", "registry")]
    targets += [("kafka", node) for node in kafka_nodes]
    for service, name in targets:
        path = layout.pidfile(name)
        record = pidfile.read(path)
        if local[service] and record is not None:
            if pidfile.is_alive(record):
                say(f"stopping {name} (pid {record.pid})...")
                stop_process(record, stop_timeout_s)
            pidfile.remove(path)
    if local["postgres"]:
        postgres.stop(layout, say)
    say("stack down")


def status(settings: StackSettings) -> list[ServiceStatus]:
    """State of each service from pid files (no network probes: fast and side-effect free)."""
    layout = Layout.of(settings)
    local = local_services(settings)
    rows: list[ServiceStatus] = []
    for name in SERVICES:
        address = address_of(settings, name)
        if not local[name]:
            rows.append(ServiceStatus(name, "external", address))
            continue
        pid: int | None
        if name == "kafka":
            rows += _kafka_rows(settings, layout)
            continue
        if name == "postgres":
            pid = postgres.running_pid(layout)
        else:
            record = pidfile.read(layout.pidfile(name))
            pid = record.pid if record is not None and pidfile.is_alive(record) else None
        detail = ""
        if name == "registry":
            detail = "storage: postgres" if registry_uses_sql(settings) else "storage: in-memory"
        rows.append(
            ServiceStatus(
                name, "running" if pid else "stopped", address, pid, layout.log(name), detail
            )
        )
    rows.append(_prometheus_row(settings, layout))
    rows.append(postgres_exporter.status_row(settings, layout))
    return rows


def _prometheus_row(settings: StackSettings, layout: Layout) -> ServiceStatus:
    record = pidfile.read(layout.pidfile(prometheus.NAME))
    pid = record.pid if record is not None and pidfile.is_alive(record) else None
    detail = "alerts: " + prometheus.url(settings) + "/alerts" if pid else "up --observability"
    return ServiceStatus(prometheus.NAME, "running" if pid else "stopped",
                         prometheus.url(settings), pid, layout.log(prometheus.NAME), detail)


def _kafka_rows(settings: StackSettings, layout: Layout) -> list[ServiceStatus]:
    """One row per local Kafka node, with the shape (security, node count) as detail: the
    shape the running nodes were started with (recorded at start), not the environment's."""
    try:
        running_shape = layout.kafka_shape_file.read_text().strip()
    except OSError:
        running_shape = ""
    alive = any(
        (record := pidfile.read(path)) is not None and pidfile.is_alive(record)
        for path in layout.run.glob("kafka*.pid")
    )
    if alive and running_shape:
        secured, nodes = parse_kafka_dir(running_shape)
        settings = settings.model_copy(update={"nmc_stack_secure": secured,
                                               "nmc_stack_brokers": nodes})
    detail = ("SASL_SSL" if settings.nmc_stack_secure else "PLAINTEXT") + (
        f", {settings.nmc_stack_brokers}-node quorum" if settings.nmc_stack_brokers > 1 else ""
    )
    rows: list[ServiceStatus] = []
    for node, port in enumerate(settings.local_kafka_ports, start=1):
        name = layout.kafka_node(node)
        record = pidfile.read(layout.pidfile(name))
        pid = record.pid if record is not None and pidfile.is_alive(record) else None
        rows.append(ServiceStatus(name, "running" if pid else "stopped", f"127.0.0.1:{port}",
                                  pid, layout.log(name), detail))
    return rows
