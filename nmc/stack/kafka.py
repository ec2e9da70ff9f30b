"""Apache Kafka 4.x, one combined KRaft broker+controller, from Maven Central jars."""

from __future__ import annotations

from nmc.kafka import admin_config
from nmc.settings import Settings, StackVersions
from nmc.stack import health, maven, pidfile, render
from nmc.stack.layout import Layout
from nmc.stack.model import Say, ServiceName, Starting
from nmc.stack.procs import require_free, require_tool, run_checked, spawn_detached

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


def _job(settings: Settings, layout: Layout, record: pidfile.PidRecord) -> Starting:
    return Starting(
        name=NAME,
        record=record,
        healthy=lambda: health.kafka_ok(admin_config(settings), timeout_s=2.0),
        logs=(layout.log(NAME), layout.out(NAME)),
    )


def start(settings: Settings, versions: StackVersions, layout: Layout, say: Say) -> Starting:
    """Download, configure, format once and launch; or hand back the already running broker."""
    record = pidfile.read(layout.pidfile(NAME))
    if record is not None and pidfile.is_alive(record):
        say(f"kafka already running (pid {record.pid})")
        return _job(settings, layout, record)
    pidfile.remove(layout.pidfile(NAME))
    java = require_tool(NAME, "java", "install a Java 17 runtime: apt-get install openjdk-17-jre")
    libs = maven.kafka_libs(layout.cache, versions, say)
    layout.kafka_data.mkdir(parents=True, exist_ok=True)
    layout.kafka_config.write_text(render.render_server_properties(settings, layout.kafka_data))
    layout.kafka_log4j.write_text(render.render_log4j2(layout.log(NAME)))
    if not (layout.kafka_data / "meta.properties").exists():
        say("formatting kafka storage...")
        cmd = render.kafka_jvm_command(
            java, libs, "kafka.tools.StorageTool",
            ["format", "--standalone", "--cluster-id", cluster_id(layout),
             "--config", str(layout.kafka_config)],
            heap="256m", log4j2=layout.kafka_log4j,
        )
        run_checked(NAME, cmd, log=layout.log(NAME))
    require_free(NAME, [settings.nmc_kafka_port, settings.nmc_kafka_controller_port])
    say(f"starting kafka on {settings.kafka}...")
    cmd = render.kafka_jvm_command(
        java, libs, "kafka.Kafka", [str(layout.kafka_config)],
        heap=settings.nmc_kafka_heap, log4j2=layout.kafka_log4j,
    )
    popen = spawn_detached(cmd, out=layout.out(NAME), cwd=layout.kafka_home)
    record = pidfile.record_for(popen.pid)
    pidfile.write(layout.pidfile(NAME), record)
    job = _job(settings, layout, record)
    job.popen = popen
    return job
