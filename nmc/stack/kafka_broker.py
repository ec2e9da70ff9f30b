"""Apache Kafka 4.x from Maven Central jars: combined KRaft broker+controller nodes.

One node by default; `nmc_stack_brokers` nodes form a static quorum on loopback; with
`nmc_stack_secure` every node has a SASL_SSL (SCRAM-SHA-512) listener and no plaintext one.
"""

from __future__ import annotations

from typing import Any

from nmc.infra.kafka_clients import admin_config
from nmc.stack import health, maven, pidfile, render, secure
from nmc.stack.errors import StackError
from nmc.stack.layout import Layout
from nmc.stack.model import Say, ServiceName, Starting
from nmc.stack.procs import (
    require_free,
    require_tool,
    run_checked,
    spawn_detached,
    wait_closed,
)
from nmc.stack.prometheus import targets_dir
from nmc.stack.prometheus_config import KAFKA_JOB, remove_targets, write_targets
from nmc.stack.settings import StackSettings, StackVersions

NAME: ServiceName = "kafka"


def cluster_id(layout: Layout) -> str:
    """The persisted cluster id (generated once: formatting is tied to it)."""
    path = layout.kafka_cluster_id
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    cid = render.new_cluster_id()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cid + "\n")
    return cid


def probe_config(
    settings: StackSettings,
    layout: Layout,
    node: int | None = None,
) -> dict[str, Any]:
    """The stack's own client config: the platform's, or the admin login of a secured stack;
    `node` narrows the bootstrap to that node (a health probe per process)."""
    if settings.nmc_stack_secure:
        material = secure.ensure_material(layout.home)
        config = admin_config(settings.model_copy(update={"connection":
                                                          material.admin_connection()}))
    else:
        config = admin_config(settings)
    if node is not None:
        config["bootstrap.servers"] = f"127.0.0.1:{settings.local_kafka_ports[node - 1]}"
    return config


def _job(settings: StackSettings, layout: Layout, node: int, record: pidfile.PidRecord) -> Starting:
    config = probe_config(settings, layout, node)
    name = layout.kafka_node(node)
    return Starting(
        name=NAME,
        record=record,
        healthy=lambda: health.kafka_ok(config, timeout_s=2.0),
        logs=(layout.log(name), layout.out(name)),
    )


def _scrape(layout: Layout, name: str, metrics_port: int | None) -> None:
    """Have the stack's Prometheus scrape node `name` (job `kafka`) iff it serves metrics."""
    if metrics_port:
        write_targets(targets_dir(layout), KAFKA_JOB, name, [f"127.0.0.1:{metrics_port}"])
    else:
        remove_targets(targets_dir(layout), KAFKA_JOB, name)


def _require_same_shape(layout: Layout) -> None:
    """Refuse to mix shapes: a running secured or three-node Kafka answers no other probe."""
    running = [
        record
        for path in layout.run.glob("kafka*.pid")
        if (record := pidfile.read(path)) is not None and pidfile.is_alive(record)
    ]
    try:
        shape = layout.kafka_shape_file.read_text().strip()
    except OSError:
        shape = "kafka"  # started before shapes were recorded: the default single node
    if running and shape != layout.kafka_dir:
        raise StackError(
            NAME,
            f"a Kafka of another shape ({shape}) is running; `nmc stack down` first, or pass the"
            " same --secure/--brokers flags (or NMC_STACK_SECURE / NMC_STACK_BROKERS)",
        )


def start(
    settings: StackSettings,
    versions: StackVersions,
    layout: Layout,
    say: Say,
) -> list[Starting]:
    """Download, configure, format once and launch every node; or hand back running ones."""
    java: str | None = None
    libs = None
    material = secure.ensure_material(layout.home) if settings.nmc_stack_secure else None
    broker_secure = (
        render.SecureBroker(
            admin_user=secure.ADMIN_USER,
            admin_password=material.admin_password,
            keystore=material.keystore,
            keystore_password=material.keystore_password,
            ca_cert=material.ca_cert,
            oauth_jwks_url=settings.nmc_stack_oauth_jwks_url,
            super_users=(f"User:{secure.ADMIN_USER}", secure.CONTROLLER_PRINCIPAL),
        )
        if material is not None
        else None
    )
    jobs: list[Starting] = []
    _require_same_shape(layout)
    for node in range(1, settings.nmc_stack_brokers + 1):
        name = layout.kafka_node(node)
        record = pidfile.read(layout.pidfile(name))
        if record is not None and pidfile.is_alive(record):
            say(f"{name} already running (pid {record.pid})")
            _scrape(layout, name, render.jmx_agent_port(pidfile.read_cmdline(record.pid)))
            jobs.append(_job(settings, layout, node, record))
            continue
        pidfile.remove(layout.pidfile(name))
        if java is None or libs is None:
            java = require_tool(
                NAME, "java", "install a Java 17 runtime: apt-get install openjdk-17-jre"
            )
            libs = maven.kafka_libs(layout.cache, versions, say)
        data, config = layout.kafka_node_data(node), layout.kafka_node_config(node)
        log4j = layout.kafka_node_log4j(node)
        data.mkdir(parents=True, exist_ok=True)
        config.write_text(render.render_server_properties(settings, data, node, broker_secure))
        config.chmod(0o600)
        log4j.write_text(render.render_log4j2(layout.log(name)))
        if not (data / "meta.properties").exists():
            say(f"formatting {name} storage...")
            quorum = ["--standalone"] if settings.nmc_stack_brokers == 1 else []
            scram = material.scram_args() if material is not None else []
            cmd = render.kafka_jvm_command(
                java, libs, "kafka.tools.StorageTool",
                ["format", *quorum, f"--cluster-id={cluster_id(layout)}",
                 "--config", str(config), *scram],
                heap="256m", log4j2=log4j,
            )
            run_checked(NAME, cmd, log=layout.log(name))
        port = settings.local_kafka_ports[node - 1]
        ports = [port, settings.nmc_kafka_controller_port + 2 * (node - 1)]
        metrics_port = render.kafka_metrics_port(settings, node)
        agent = None
        if metrics_port:
            ports.append(metrics_port)
            agent = render.jmx_agent_flag(maven.jmx_agent(layout.cache, versions, say),
                                          metrics_port, render.JMX_RULES_DIR / "kafka-broker.yml")
        wait_closed(ports)  # a node of a cluster just killed (`down(stop_timeout_s=0)`)
        require_free(NAME, ports)
        say(f"starting {name} on 127.0.0.1:{port}"
            f"{' (SASL_SSL)' if material is not None else ''}...")
        cmd = render.kafka_jvm_command(
            java, libs, "kafka.Kafka", [str(config)],
            heap=settings.nmc_kafka_heap, log4j2=log4j,
            system_props=render.oauth_system_properties(
                settings.nmc_stack_oauth_jwks_url if material is not None else None
            ),
            java_agent=agent,
        )
        popen = spawn_detached(cmd, out=layout.out(name), cwd=layout.kafka_home)
        record = pidfile.record_for(popen.pid)
        pidfile.write(layout.pidfile(name), record)
        _scrape(layout, name, metrics_port)
        layout.kafka_shape_file.write_text(layout.kafka_dir + "\n")
        job = _job(settings, layout, node, record)
        job.popen = popen
        jobs.append(job)
    return jobs
