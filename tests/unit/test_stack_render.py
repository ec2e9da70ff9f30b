"""Pure renderers of the local stack: pom, log4j2, server.properties, postgres, registry."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from support.settings import PlatformSettings as Settings

from nmc.stack import render
from nmc.stack.settings import StackVersions

NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _settings(**kw: object) -> Settings:
    return Settings(nmc_home=Path("/srv/nmc"), **kw)  # type: ignore[arg-type]


def _props(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_pom_has_kafka_log4j2_and_pins_slf4j_2() -> None:
    versions = StackVersions()
    root = ET.fromstring(render.render_kafka_pom(versions))
    deps = {
        (d.findtext("m:groupId", namespaces=NS), d.findtext("m:artifactId", namespaces=NS)):
        d.findtext("m:version", namespaces=NS)
        for d in root.findall("m:dependencies/m:dependency", NS)
    }
    assert deps[("org.apache.kafka", "kafka_2.13")] == versions.kafka_version
    for artifact in ("log4j-core", "log4j-api", "log4j-slf4j2-impl"):
        assert deps[("org.apache.logging.log4j", artifact)] == versions.log4j_version
    assert deps[("org.slf4j", "slf4j-api")] == versions.slf4j_version
    managed = root.findall("m:dependencyManagement/m:dependencies/m:dependency", NS)
    assert [m.findtext("m:artifactId", namespaces=NS) for m in managed] == ["slf4j-api"]
    assert managed[0].findtext("m:version", namespaces=NS) == versions.slf4j_version


def test_stale_slf4j_jars_keeps_only_2x() -> None:
    names = ["slf4j-api-1.7.36.jar", "slf4j-api-2.0.17.jar", "kafka_2.13-4.1.1.jar"]
    assert render.stale_slf4j_jars(names) == ["slf4j-api-1.7.36.jar"]


def test_log4j2_is_xml_with_console_and_file() -> None:
    root = ET.fromstring(render.render_log4j2(Path("/srv/nmc/logs/kafka.log")))
    appenders = root.find("Appenders")
    assert appenders is not None
    assert appenders.find("Console") is not None
    rolling = appenders.find("RollingFile")
    assert rolling is not None and rolling.get("fileName") == "/srv/nmc/logs/kafka.log"
    root_logger = root.find("Loggers/Root")
    assert root_logger is not None and root_logger.get("level") == "INFO"


def test_server_properties_single_node_kraft() -> None:
    props = _props(render.render_server_properties(_settings(), Path("/srv/nmc/kafka/data")))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["log.dirs"] == "/srv/nmc/kafka/data"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert props[key] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["group.min.session.timeout.ms"] == "1000"  # tests take over in 3 s
    assert props["auto.create.topics.enable"] == "false"
    assert props["num.partitions"] == "6"
    assert "controller.quorum.voters" not in props  # conflicts with `format --standalone`


def test_server_properties_follow_port_settings() -> None:
    settings = _settings(nmc_kafka_port=19092, nmc_kafka_controller_port=19093)
    props = _props(render.render_server_properties(settings, Path("/d")))
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"


def test_cluster_id_is_22_urlsafe_chars() -> None:
    ids = {render.new_cluster_id() for _ in range(20)}
    assert len(ids) == 20
    for cid in ids:
        assert len(cid) == 22
        assert set(cid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_kafka_command_uses_heap_classpath_and_log4j2() -> None:
    cmd = render.kafka_jvm_command(
        "java", Path("/c/libs"), "kafka.Kafka", ["server.properties"],
        heap="768m", log4j2=Path("/k/log4j2.xml"),
    )
    assert cmd[0] == "java" and "-Xmx768m" in cmd
    assert cmd[cmd.index("-cp") + 1] == "/c/libs/*"
    assert "-Dlog4j2.configurationFile=/k/log4j2.xml" in cmd
    assert cmd[-2:] == ["kafka.Kafka", "server.properties"]


def test_postgres_conf_loopback_socket_and_logical_wal() -> None:
    conf = render.render_postgres_conf(_settings(nmc_postgres_port=5433), Path("/srv/nmc/run/pg"))
    assert "listen_addresses = '127.0.0.1'" in conf
    assert "port = 5433" in conf
    assert "unix_socket_directories = '/srv/nmc/run/pg'" in conf
    assert "wal_level = logical" in conf


def test_pg_include_is_appended_once() -> None:
    once = render.with_pg_include("max_connections = 100")
    assert once.endswith(render.PG_INCLUDE_LINE + "\n")
    assert render.with_pg_include(once) == once


def test_initdb_auth_scram_on_host_trust_on_socket() -> None:
    args = render.initdb_args("/usr/lib/postgresql/15/bin/initdb", Path("/d"))
    assert "--auth-host=scram-sha-256" in args and "--auth-local=trust" in args


def test_registry_properties_sql_storage() -> None:
    props = render.registry_properties(_settings(), sql_storage=True)
    assert props["quarkus.http.host"] == "127.0.0.1"
    assert props["quarkus.http.port"] == "8081"
    assert props["apicurio.storage.kind"] == "sql"
    assert props["apicurio.storage.sql.kind"] == "postgresql"
    assert props["apicurio.datasource.url"] == "jdbc:postgresql://127.0.0.1:5432/apicurio"
    assert props["apicurio.datasource.username"] == "nmc"


def test_registry_properties_in_memory_when_db_external() -> None:
    props = render.registry_properties(_settings(), sql_storage=False)
    assert not any(key.startswith("apicurio.datasource") for key in props)
    assert "apicurio.storage.sql.kind" not in props


def test_registry_command_passes_system_properties() -> None:
    cmd = render.registry_command("java", "512m", {"a.b": "c"})
    assert cmd == ["java", "-Xmx512m", "-Djava.awt.headless=true", "-Da.b=c", "-jar",
                   "quarkus-run.jar"]


def test_libpq_url() -> None:
    assert render.libpq_url("postgresql+psycopg://u:p@h:1/d") == "postgresql://u:p@h:1/d"
    assert render.libpq_url("postgresql://u@h/d") == "postgresql://u@h/d"


def test_cluster_id_never_reads_as_an_option() -> None:
    # 1 in 64 random ids start with "-", which kafka-storage's parser takes for an option
    assert not any(render.new_cluster_id().startswith("-") for _ in range(2000))
