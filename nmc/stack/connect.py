"""Kafka Connect (standalone) + Debezium PostgreSQL + the contract SMT: the CDC relay.

Everything comes from Maven Central, cached under `<nmc_home>/cache` like the broker:

* the worker: `connect-runtime`, `connect-json`, `connect-transforms` at the broker's version, with
  the broker's log4j2 + slf4j 2 wiring;
* the Debezium plugin: `debezium-connector-postgres`' runtime closure minus the `org.apache.kafka`
  and `org.slf4j` groups (the worker provides those);
* the contract plugin: `connectors/contract-smt` built with Maven (its jar and Avro).

The worker listens on loopback only; its offsets, config and secrets live in `<nmc_home>/connect`.
The database side uses a dedicated role with REPLICATION and a publication of `outbox_events`
that the stack creates (as the local superuser) before the connector starts.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx
import psycopg
from psycopg import sql
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from nmc.infra.settings import PROJECT_ROOT
from nmc.stack import maven, pidfile, render
from nmc.stack.errors import StackError
from nmc.stack.layout import Layout
from nmc.stack.model import Say
from nmc.stack.procs import (
    require_free,
    require_tool,
    run_checked,
    spawn_detached,
    wait_closed,
)
from nmc.stack.procs import stop as stop_process
from nmc.stack.prometheus import targets_dir
from nmc.stack.prometheus_config import remove_targets, write_targets
from nmc.stack.settings import StackSettings, StackVersions

NAME = "connect"
SMT_DIR = PROJECT_ROOT / "connectors" / "contract-smt"
SMT_CLASS = "nmc.connect.OutboxContract"
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"


class ConnectSettings(BaseSettings):
    """Settings of `nmc connect` (environment variables `NMC_CONNECT_*`)."""

    model_config = SettingsConfigDict(env_prefix="NMC_CONNECT_", frozen=True, extra="ignore")

    port: int = Field(default=8083, description="REST port of the worker (loopback only).")
    heap: str = Field(default="512m", description="JVM heap of the Connect worker.")
    metrics_port: int = Field(
        default=9409, ge=0, le=65535, description="Prometheus /metrics port of the worker "
        "(JMX exporter agent, rules in deploy/jmx/kafka-connect.yml; loopback); 0 = off. "
        "Scrape job `connect`."
    )
    debezium_version: str = Field(
        default="3.6.1.Final", description="io.debezium:debezium-connector-postgres version."
    )
    connector: str = Field(default="nmc-outbox-cdc", description="Connector name.")
    slot: str = Field(default="nmc_outbox_cdc", description="Replication slot of the connector.")
    publication: str = Field(
        default="nmc_outbox_cdc", description="PostgreSQL publication of outbox_events."
    )
    role: str = Field(default="nmc_cdc", description="Database role with LOGIN REPLICATION.")
    password: str = Field(  # the documented local-only credential of the stack
        default="nmc_cdc", description="Password of the CDC role (local stack only)."
    )
    snapshot_mode: str = Field(
        default="no_data",
        description="Debezium snapshot.mode: 'no_data' takes over from the relay without "
        "republishing the table; 'initial' also publishes every row already in it.",
    )
    offset_flush_ms: int = Field(
        default=1000, ge=100, description="How often the worker stores its WAL position."
    )
    start_timeout_s: float = Field(
        default=180.0, description="How long `nmc connect up` waits for the worker."
    )
    retention_s: float = Field(
        default=3600.0, ge=0,
        description="CDC mode retention: outbox rows older than this are deleted by age only "
        "(Debezium neither marks nor deletes rows; the WAL already holds what it streams).",
    )
    retention_batch: int = Field(
        default=5000, ge=1, description="Rows `nmc connect prune` deletes per statement."
    )


@lru_cache(maxsize=1)
def get_connect_settings() -> ConnectSettings:
    return ConnectSettings()


@dataclass(frozen=True)
class ConnectLayout:
    """Files of the worker under `<nmc_home>/connect`."""

    home: Path

    @classmethod
    def of(cls, layout: Layout) -> ConnectLayout:
        return cls(layout.home / "connect")

    @property
    def worker_properties(self) -> Path:
        return self.home / "worker.properties"

    @property
    def connector_properties(self) -> Path:
        return self.home / "connector.properties"

    @property
    def secrets(self) -> Path:
        return self.home / "secrets.properties"

    @property
    def offsets(self) -> Path:
        return self.home / "offsets.dat"

    @property
    def log4j(self) -> Path:
        return self.home / "log4j2.xml"

    @property
    def plugins(self) -> Path:
        return self.home / "plugins"


def base_url(cs: ConnectSettings) -> str:
    return f"http://127.0.0.1:{cs.port}"


# --- pure renderers ------------------------------------------------------------------------


def render_pom(artifact: str, deps: list[tuple[str, str, str]], versions: StackVersions) -> str:
    """A throw-away pom whose runtime closure is what we copy (slf4j pinned to 2.x)."""
    body = "\n".join(
        "      <dependency>"
        f"<groupId>{escape(g)}</groupId><artifactId>{escape(a)}</artifactId>"
        f"<version>{escape(v)}</version></dependency>"
        for g, a, v in deps
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>nmc.stack</groupId>
  <artifactId>{escape(artifact)}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencyManagement>
    <dependencies>
      <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>{
          escape(versions.slf4j_version)}</version></dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
{body}
  </dependencies>
</project>
"""


def worker_deps(versions: StackVersions) -> list[tuple[str, str, str]]:
    kafka, log4j = versions.kafka_version, versions.log4j_version
    return [
        ("org.apache.kafka", "connect-runtime", kafka),
        ("org.apache.kafka", "connect-json", kafka),
        ("org.apache.kafka", "connect-transforms", kafka),
        ("org.apache.logging.log4j", "log4j-api", log4j),
        ("org.apache.logging.log4j", "log4j-core", log4j),
        ("org.apache.logging.log4j", "log4j-slf4j2-impl", log4j),
        ("org.slf4j", "slf4j-api", versions.slf4j_version),
    ]


def render_worker_properties(
    settings: StackSettings, cs: ConnectSettings, cl: ConnectLayout
) -> dict[str, str]:
    """Standalone worker: loopback REST, file offsets, bytes through, the relay's producer."""
    return {
        "bootstrap.servers": settings.kafka,
        "listeners": f"http://127.0.0.1:{cs.port}",
        "rest.advertised.host.name": "127.0.0.1",
        "plugin.path": str(cl.plugins),
        "offset.storage.file.filename": str(cl.offsets),
        "offset.flush.interval.ms": str(cs.offset_flush_ms),
        # The SMT hands over finished bytes: key, value and headers pass through untouched.
        "key.converter": BYTES,
        "value.converter": BYTES,
        "header.converter": BYTES,
        "config.providers": "file",
        "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
        # Same producer as `nmc relay` (nmc/infra/kafka_clients.py): idempotent, acks=all, lz4,
        # linger; the Java client's default partitioner is the contract's murmur2.
        "producer.acks": "all",
        "producer.enable.idempotence": "true",
        "producer.compression.type": "lz4",
        "producer.linger.ms": str(settings.nmc_producer_linger_ms),
    }


def connector_config(
    settings: StackSettings,
    cs: ConnectSettings,
    cl: ConnectLayout,
    *,
    dbname: str,
    slot: str,
    publication: str,
    snapshot_mode: str | None = None,
) -> dict[str, str]:
    """Debezium on `outbox_events` of `dbname`, then the contract SMT; fail rather than skip."""
    db = make_url(settings.database)
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": db.host or "127.0.0.1",
        "database.port": str(db.port or 5432),
        "database.user": cs.role,
        "database.password": f"${{file:{cl.secrets}:database.password}}",
        "database.dbname": dbname,
        "topic.prefix": f"nmc-cdc-{dbname}",
        "table.include.list": "public.outbox_events",
        "slot.name": slot,
        "publication.name": publication,
        "publication.autocreate.mode": "disabled",
        "snapshot.mode": snapshot_mode or cs.snapshot_mode,
        "skipped.operations": "u,d,t",
        "tombstones.on.delete": "false",
        # Heartbeats let the slot's confirmed position advance while other databases write WAL
        # (the SMT drops the heartbeat records themselves).
        "heartbeat.interval.ms": "10000",
        # ...and the driver confirms WAL that holds nothing for us (other databases' writes), so
        # an idle outbox does not make the slot retain the whole cluster's WAL.
        "lsn.flush.mode": "connector_and_driver",
        # Debezium waits up to poll.interval.ms (500) for a full batch; 100 keeps commit -> Kafka
        # latency near the relay's at a small CPU cost.
        "poll.interval.ms": "100",
        "transforms": "contract",
        "transforms.contract.type": SMT_CLASS,
        "transforms.contract.registry.url": settings.registry,
        "transforms.contract.registry.timeout.ms": str(int(settings.nmc_registry_timeout_s * 1000)),
        # Registry outages are retried forever; a row that can never be encoded stops the task
        # (no silent skip: the slot keeps it until an operator acts, see connectors/README.md).
        "errors.tolerance": "none",
        "errors.retry.timeout": "-1",
        "errors.retry.delay.max.ms": "30000",
    }


def render_properties(props: Mapping[str, str]) -> str:
    lines = ["# Written by `nmc connect` on every start; edit nmc/stack/connect.py instead."]
    for key, value in props.items():
        escaped = value.replace("\\", "\\\\")
        lines.append(f"{key}={escaped}")
    return "\n".join(lines) + "\n"


def smt_fingerprint(source: Path = SMT_DIR) -> str:
    """Hash of the SMT's pom and sources: a change rebuilds the plugin."""
    digest = hashlib.sha256()
    for path in sorted([source / "pom.xml", *(source / "src" / "main").rglob("*.java")]):
        digest.update(path.relative_to(source).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# --- artifacts -----------------------------------------------------------------------------


def _copy_closure(dest: Path, deps: list[tuple[str, str, str]], versions: StackVersions,
                  excludes: str = "") -> Path:
    mvn = require_tool(NAME, "mvn", "apt-get install maven")
    (dest / "pom.xml").write_text(render_pom(f"nmc-{dest.name}", deps, versions))
    libs = dest / "libs"
    cmd = [mvn, "-B", "-q", "-f", str(dest / "pom.xml"), "dependency:copy-dependencies",
           "-DincludeScope=runtime", f"-DoutputDirectory={libs}"]
    if excludes:
        cmd.append(f"-DexcludeGroupIds={excludes}")
    run_checked(NAME, cmd, cwd=dest, attempts=3)
    return libs


def worker_libs(cache: Path, versions: StackVersions, say: Say) -> Path:
    target = cache / f"connect-{versions.kafka_version}-log4j-{versions.log4j_version}"

    def fill(dest: Path) -> None:
        say(f"downloading kafka connect {versions.kafka_version} jars from Maven Central...")
        libs = _copy_closure(dest, worker_deps(versions), versions)
        for name in render.stale_slf4j_jars(sorted(p.name for p in libs.glob("*.jar"))):
            (libs / name).unlink()
        if not any(libs.glob("connect-runtime-*.jar")):
            raise StackError(NAME, f"maven finished but no connect-runtime jar in {libs}")

    return maven.cached(target, fill) / "libs"


def debezium_plugin(cache: Path, versions: StackVersions, cs: ConnectSettings, say: Say) -> Path:
    target = cache / f"debezium-postgres-{cs.debezium_version}"

    def fill(dest: Path) -> None:
        say(f"downloading debezium-connector-postgres {cs.debezium_version}...")
        libs = _copy_closure(
            dest, [("io.debezium", "debezium-connector-postgres", cs.debezium_version)],
            versions, excludes="org.apache.kafka,org.slf4j")
        if not any(libs.glob("debezium-connector-postgres-*.jar")):
            raise StackError(NAME, f"maven finished but no debezium connector jar in {libs}")

    return maven.cached(target, fill) / "libs"


def contract_plugin(cache: Path, say: Say, source: Path = SMT_DIR) -> Path:
    """`connectors/contract-smt` built with Maven: its jar plus its runtime dependencies."""
    target = cache / f"nmc-contract-smt-{smt_fingerprint(source)}"

    def fill(dest: Path) -> None:
        mvn = require_tool(NAME, "mvn", "apt-get install maven")
        say("building connectors/contract-smt with maven...")
        build = dest / "build"
        shutil.copytree(source, build, ignore=shutil.ignore_patterns("target"))
        libs = dest / "libs"
        run_checked(NAME, [mvn, "-B", "-q", "-f", str(build / "pom.xml"), "-DskipTests",
                           "package", "dependency:copy-dependencies", "-DincludeScope=runtime",
                           f"-DoutputDirectory={libs}"], cwd=build)
        for jar in (build / "target").glob("nmc-contract-smt-*.jar"):
            shutil.copy2(jar, libs / jar.name)
        shutil.rmtree(build)

    return maven.cached(target, fill) / "libs"


def link_plugins(cl: ConnectLayout, plugins: Mapping[str, Path]) -> None:
    """`plugin.path` entries: one directory (own class loader) per plugin."""
    if cl.plugins.exists():
        shutil.rmtree(cl.plugins)
    cl.plugins.mkdir(parents=True)
    for name, libs in plugins.items():
        (cl.plugins / name).symlink_to(libs, target_is_directory=True)


def render_log4j2(log_file: Path) -> str:
    """The broker's log4j2 layout for the worker (INFO to the file, WARN+ to stdout)."""
    text = render.render_log4j2(log_file)
    return text.replace(
        '<Logger name="state.change.logger" level="WARN"/>',
        '<Logger name="state.change.logger" level="WARN"/>\n'
        '    <Logger name="org.reflections" level="ERROR"/>',
    )


# --- database side -------------------------------------------------------------------------


def provision_database(settings: StackSettings, cs: ConnectSettings, layout: Layout, dbname: str,
                       publication: str) -> None:
    """Role with LOGIN REPLICATION, SELECT on the outbox, and the publication (idempotent).

    Done as the local stack's superuser over its socket; with an external database an operator
    does the same (connectors/README.md)."""
    db = make_url(settings.database)
    ours = db.host in ("127.0.0.1", "localhost") and db.port == settings.nmc_postgres_port
    if not (settings.uses_local_database or (ours and layout.pg_socket_dir.exists())):
        return
    try:
        with psycopg.connect(host=str(layout.pg_socket_dir), port=settings.nmc_postgres_port,
                             user="postgres", dbname=dbname, autocommit=True) as conn:
            role = sql.Identifier(cs.role)
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (cs.role,)).fetchone():
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN REPLICATION PASSWORD {}").format(
                    role, sql.Literal(cs.password)))
            else:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN REPLICATION PASSWORD {}").format(
                    role, sql.Literal(cs.password)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), role))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
            conn.execute(sql.SQL("GRANT SELECT ON outbox_events TO {}").format(role))
            exists = conn.execute(
                "SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE outbox_events").format(
                    sql.Identifier(publication)))
    except psycopg.Error as exc:
        raise StackError(NAME, f"provisioning the CDC role in {dbname} failed: {exc}") from exc


@dataclass(frozen=True)
class SlotLag:
    slot: str
    database: str
    active: bool
    lag_bytes: int


def slot_lags(settings: StackSettings) -> list[SlotLag]:
    """Every logical slot and how many WAL bytes it still holds back (confirmed_flush_lsn)."""
    with psycopg.connect(render.libpq_url(settings.database), connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT slot_name, coalesce(database, ''), active,"
            " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint"
            " FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY slot_name"
        ).fetchall()
    return [SlotLag(str(r[0]), str(r[1]), bool(r[2]), int(r[3])) for r in rows]


def cdc_url(settings: StackSettings, cs: ConnectSettings) -> str:
    """libpq URL of the application database as the CDC role (which may drop its slots)."""
    url = make_url(settings.database).set(username=cs.role, password=cs.password)
    return render.libpq_url(url.render_as_string(hide_password=False))


def wait_slot_released(settings: StackSettings, slot: str, timeout_s: float = 30.0) -> None:
    """Wait until no walsender holds `slot` (a killed worker's lingers until PostgreSQL sees the
    connection gone); a task started before that fails to acquire the slot."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(lag.slot == slot and lag.active for lag in slot_lags(settings)):
            return
        time.sleep(0.5)
    raise StackError(NAME, f"slot {slot} still held by another connection after {timeout_s:.0f} s")


def drop_slot(
    settings: StackSettings,
    cs: ConnectSettings,
    slot: str,
    timeout_s: float = 30.0,
) -> bool:
    """Drop a replication slot once nothing streams from it; False when there is none."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(cdc_url(settings, cs), autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                               (slot,)).fetchone()
            if row is None:
                return False
            if not row[0]:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                return True
            if time.monotonic() > deadline:
                raise StackError(NAME, f"slot {slot} is still in use after {timeout_s:.0f} s")
            time.sleep(0.5)


def prune_by_age(database_url: str, older_than_s: float, batch: int) -> int:
    """CDC-mode retention: delete outbox rows created more than `older_than_s` ago, whatever
    their state (nothing marks them under CDC), in batches; returns how many were deleted.

    Safe while the connector lags or is stopped: logical decoding reads the insert from the WAL
    that the slot retains, not from the table. The connector skips the deletes (`d`)."""
    total = 0
    with psycopg.connect(render.libpq_url(database_url), autocommit=True) as conn:
        while True:
            cur = conn.execute(
                "DELETE FROM outbox_events WHERE id IN (SELECT id FROM outbox_events"
                " WHERE created_at < clock_timestamp() - make_interval(secs => %s)"
                " ORDER BY id LIMIT %s)",
                (older_than_s, batch),
            )
            total += cur.rowcount
            if cur.rowcount < batch:
                return total


# --- REST ------------------------------------------------------------------------------------


def rest_ok(cs: ConnectSettings, timeout_s: float = 2.0) -> bool:
    try:
        return httpx.get(f"{base_url(cs)}/connectors", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def put_connector(cs: ConnectSettings, name: str, config: Mapping[str, str]) -> None:
    response = httpx.put(f"{base_url(cs)}/connectors/{name}/config", json=dict(config),
                         timeout=60.0)
    if response.status_code not in (200, 201):
        raise StackError(NAME, f"connector {name}: {response.status_code} {response.text}")


def delete_connector(cs: ConnectSettings, name: str) -> bool:
    try:
        response = httpx.delete(f"{base_url(cs)}/connectors/{name}", timeout=60.0)
    except httpx.HTTPError:
        return False
    return response.status_code in (200, 204)


def connector_status(cs: ConnectSettings, name: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(f"{base_url(cs)}/connectors/{name}/status", timeout=10.0)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    status: dict[str, Any] = response.json()
    return status


def connector_state(status: Mapping[str, Any] | None) -> str:
    """`RUNNING` only when the connector and every task run; else the worst state seen."""
    if status is None:
        return "ABSENT"
    states = [status.get("connector", {}).get("state", "UNKNOWN")]
    states += [t.get("state", "UNKNOWN") for t in status.get("tasks", [])]
    if not status.get("tasks"):
        states.append("UNASSIGNED")
    for bad in ("FAILED", "UNASSIGNED", "PAUSED", "STOPPED", "RESTARTING", "UNKNOWN"):
        if bad in states:
            return bad
    return "RUNNING"


def wait_running(cs: ConnectSettings, name: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    status: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        status = connector_status(cs, name)
        state = connector_state(status)
        if state == "RUNNING":
            return
        if state == "FAILED":
            break
        time.sleep(0.5)
    raise StackError(NAME, f"connector {name} not running: {json.dumps(status)[:600]}")


def ensure_running(cs: ConnectSettings, name: str, timeout_s: float = 120.0,
                   restarts: int = 2) -> None:
    """`wait_running`, restarting failed tasks up to `restarts` times: right after a worker
    crash Debezium can misread its own slot as missing and fail creating it; a restart reads
    it again and resumes from the stored position."""
    for attempt in range(restarts + 1):
        try:
            wait_running(cs, name, timeout_s)
            return
        except StackError:
            if attempt == restarts:
                raise
            httpx.post(f"{base_url(cs)}/connectors/{name}/restart",
                       params={"includeTasks": "true", "onlyFailed": "true"}, timeout=60.0)
            time.sleep(2.0)


# --- process ---------------------------------------------------------------------------------


def running(layout: Layout) -> pidfile.PidRecord | None:
    record = pidfile.read(layout.pidfile(NAME))
    return record if record is not None and pidfile.is_alive(record) else None


def worker_command(java: str, libs: Path, cs: ConnectSettings, cl: ConnectLayout,
                   connectors: list[Path], agent_jar: Path | None = None) -> list[str]:
    """The standalone worker; with `agent_jar` and a metrics port, the JMX exporter too."""
    agent = (
        [render.jmx_agent_flag(agent_jar, cs.metrics_port,
                               render.JMX_RULES_DIR / "kafka-connect.yml")]
        if agent_jar is not None and cs.metrics_port else []
    )
    return [
        java, f"-Xmx{cs.heap}", "-Xms128m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={cl.log4j}", *agent, "-cp", f"{libs}/*",
        "org.apache.kafka.connect.cli.ConnectStandalone", str(cl.worker_properties),
        *(str(c) for c in connectors),
    ]


def prepare(cs: ConnectSettings, versions: StackVersions, layout: Layout, say: Say) -> Path:
    """Download the worker and Debezium, build the contract SMT (each cached once) and link the
    plugins: all of `start` that needs no running service (`make test` runs it ahead). A second
    caller waits for the first (a file lock) and finds the cache filled."""
    cl = ConnectLayout.of(layout)
    cl.home.mkdir(parents=True, exist_ok=True)
    layout.cache.mkdir(parents=True, exist_ok=True)
    with (layout.cache / ".connect.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        libs = worker_libs(layout.cache, versions, say)
        link_plugins(cl, {
            "debezium-postgres": debezium_plugin(layout.cache, versions, cs, say),
            "nmc-contract-smt": contract_plugin(layout.cache, say),
        })
    return libs


def start(settings: StackSettings, cs: ConnectSettings, versions: StackVersions, layout: Layout,
          say: Say, *, with_connector: bool = True) -> pidfile.PidRecord:
    """Provision plugins and the CDC role, start the worker (with the platform's connector
    from its properties file unless `with_connector` is False) and wait for its REST API."""
    record = running(layout)
    if record is not None:
        say(f"connect already running (pid {record.pid})")
        _scrape(layout, render.jmx_agent_port(pidfile.read_cmdline(record.pid)))
        return record
    pidfile.remove(layout.pidfile(NAME))
    java = require_tool(NAME, "java", "install a Java 17 runtime: apt-get install openjdk-17-jre")
    cl = ConnectLayout.of(layout)
    cl.home.mkdir(parents=True, exist_ok=True)
    libs = prepare(cs, versions, layout, say)
    cl.worker_properties.write_text(
        render_properties(render_worker_properties(settings, cs, cl)))
    cl.secrets.write_text(render_properties({"database.password": cs.password}))
    os.chmod(cl.secrets, 0o600)
    cl.log4j.write_text(render_log4j2(layout.log(NAME)))
    connectors: list[Path] = []
    cl.connector_properties.unlink(missing_ok=True)
    if with_connector:
        dbname = make_url(settings.database).database or render.APP_DB
        provision_database(settings, cs, layout, dbname, cs.publication)
        wait_slot_released(settings, cs.slot)
        config = {"name": cs.connector, **connector_config(
            settings, cs, cl, dbname=dbname, slot=cs.slot, publication=cs.publication)}
        cl.connector_properties.write_text(render_properties(config))
        connectors.append(cl.connector_properties)
    ports = [cs.port, *([cs.metrics_port] if cs.metrics_port else [])]
    wait_closed(ports)  # a worker just killed
    require_free(NAME, ports)
    agent_jar = maven.jmx_agent(layout.cache, versions, say, NAME) if cs.metrics_port else None
    say(f"starting kafka connect on {base_url(cs)}...")
    popen = spawn_detached(worker_command(java, libs, cs, cl, connectors, agent_jar),
                           out=layout.logs / f"{NAME}.out", cwd=cl.home)
    record = pidfile.record_for(popen.pid)
    pidfile.write(layout.pidfile(NAME), record)
    _scrape(layout, cs.metrics_port)
    began = time.monotonic()
    while not rest_ok(cs):
        if popen.poll() is not None:
            raise StackError(NAME, f"worker exited {popen.returncode}", layout.log(NAME))
        if time.monotonic() - began > cs.start_timeout_s:
            raise StackError(NAME, f"REST not up after {cs.start_timeout_s:.0f} s",
                             layout.log(NAME))
        time.sleep(0.5)
    say(f"connect REST up in {time.monotonic() - began:.1f} s")
    return record


def _scrape(layout: Layout, metrics_port: int | None) -> None:
    """Have the stack's Prometheus scrape the worker (job `connect`) iff it serves metrics:
    the worker started with the agent, or one already running whose command line has it."""
    if metrics_port:
        write_targets(targets_dir(layout), NAME, "worker", [f"127.0.0.1:{metrics_port}"])
    else:
        remove_targets(targets_dir(layout), NAME, "worker")


def stop(layout: Layout, say: Say, timeout_s: float = 30.0) -> None:
    record = running(layout)
    if record is not None:
        say(f"stopping connect (pid {record.pid})...")
        stop_process(record, timeout_s)
    pidfile.remove(layout.pidfile(NAME))
    _scrape(layout, None)  # stopped on purpose: no NmcTargetDown


def forget_offsets(layout: Layout) -> None:
    """A new start after the slot was dropped: the stored LSN refers to the old slot."""
    ConnectLayout.of(layout).offsets.unlink(missing_ok=True)
