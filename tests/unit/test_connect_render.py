"""`nmc connect`'s pure parts: worker and connector configuration, state folding, the pom."""

from __future__ import annotations

from pathlib import Path

from support.settings import PlatformSettings as Settings

from nmc.stack import connect
from nmc.stack.settings import StackVersions


def _settings() -> Settings:
    return Settings(nmc_kafka_port=9692, nmc_registry_port=8681, nmc_postgres_port=6032,
                    nmc_home=Path("/tmp/nmc-home"))


def test_worker_listens_on_loopback_and_passes_bytes_through() -> None:
    cs = connect.ConnectSettings(port=8683)
    cl = connect.ConnectLayout(Path("/tmp/nmc-home/connect"))
    props = connect.render_worker_properties(_settings(), cs, cl)
    assert props["listeners"] == "http://127.0.0.1:8683"
    assert props["bootstrap.servers"] == "127.0.0.1:9692"
    assert props["offset.storage.file.filename"] == "/tmp/nmc-home/connect/offsets.dat"
    for converter in ("key.converter", "value.converter", "header.converter"):
        assert props[converter] == connect.BYTES
    assert props["producer.acks"] == "all"
    assert props["producer.enable.idempotence"] == "true"
    assert "producer.partitioner.class" not in props  # the Java default: murmur2


def test_connector_uses_the_cdc_role_its_slot_and_the_contract_smt() -> None:
    cs = connect.ConnectSettings()
    cl = connect.ConnectLayout(Path("/tmp/nmc-home/connect"))
    config = connect.connector_config(_settings(), cs, cl, dbname="nmc", slot="s1",
                                      publication="p1")
    assert config["database.port"] == "6032"
    assert config["database.user"] == cs.role
    assert config["database.password"].startswith("${file:/tmp/nmc-home/connect/secrets")
    assert (config["slot.name"], config["publication.name"]) == ("s1", "p1")
    assert config["publication.autocreate.mode"] == "disabled"
    assert config["snapshot.mode"] == "no_data"
    assert config["transforms.contract.type"] == connect.SMT_CLASS
    assert config["transforms.contract.registry.url"] == "http://127.0.0.1:8681/apis/ccompat/v7"
    assert config["errors.tolerance"] == "none"
    initial = connect.connector_config(_settings(), cs, cl, dbname="x", slot="s", publication="p",
                                       snapshot_mode="initial")
    assert initial["snapshot.mode"] == "initial"


def test_connector_state_is_the_worst_of_connector_and_tasks() -> None:
    running = {"connector": {"state": "RUNNING"}, "tasks": [{"state": "RUNNING"}]}
    assert connect.connector_state(running) == "RUNNING"
    assert connect.connector_state(None) == "ABSENT"
    assert connect.connector_state({"connector": {"state": "RUNNING"}, "tasks": []}) == "UNASSIGNED"
    failed = {"connector": {"state": "RUNNING"}, "tasks": [{"state": "FAILED"}]}
    assert connect.connector_state(failed) == "FAILED"


def test_worker_pom_pins_the_broker_version_and_slf4j_2() -> None:
    versions = StackVersions()
    pom = connect.render_pom("w", connect.worker_deps(versions), versions)
    assert f"<artifactId>connect-runtime</artifactId><version>{versions.kafka_version}" in pom
    assert "log4j-slf4j2-impl" in pom
    assert f"<artifactId>slf4j-api</artifactId><version>{versions.slf4j_version}" in pom


def test_properties_escape_backslashes() -> None:
    text = connect.render_properties({"a": "C:\\x", "b": "y"})
    assert "a=C:\\\\x\nb=y\n" in text
