"""The JMX exporter on the local brokers and the Connect worker (pure: command lines, ports,
the rules files and the scrape jobs they feed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.settings import PlatformSettings as Settings

from nmc.stack import connect, pidfile, render
from nmc.stack.prometheus_config import (
    KAFKA_JOB,
    PROCESS_JOBS,
    RULES_DIR,
    local_jobs,
    remove_targets,
    write_targets,
)

JAR = Path("/cache/jmx-exporter-1.0.1/jmx_prometheus_javaagent-1.0.1.jar")


def test_one_metrics_port_per_node_and_zero_turns_it_off() -> None:
    settings = Settings(nmc_kafka_metrics_port=9504, nmc_stack_brokers=3)
    assert [render.kafka_metrics_port(settings, n) for n in (1, 2, 3)] == [9504, 9505, 9506]
    off = Settings(nmc_kafka_metrics_port=0, nmc_stack_brokers=3)
    assert [render.kafka_metrics_port(off, n) for n in (1, 2, 3)] == [0, 0, 0]


def test_default_ports_collide_with_none_of_the_stack() -> None:
    settings = Settings(nmc_stack_brokers=5)  # the most nodes a local stack has
    cs = connect.ConnectSettings()
    metrics = [render.kafka_metrics_port(settings, n) for n in range(1, 6)] + [cs.metrics_port]
    others = [
        *settings.local_kafka_ports,
        *(settings.nmc_kafka_controller_port + 2 * i for i in range(5)),
        settings.nmc_registry_port, render.registry_management_port(settings),
        settings.nmc_postgres_port, settings.nmc_prometheus_port, cs.port,
    ]
    assert len(set(metrics)) == len(metrics) and not set(metrics) & set(others)
    # the cluster tests' extra Kafka shifts its metrics ports by 10 (cluster_support.py)
    assert not {p + 10 for p in metrics[:5]} & {*metrics, *others}


def test_broker_command_attaches_the_agent_with_the_broker_rules() -> None:
    flag = render.jmx_agent_flag(JAR, 9404, render.JMX_RULES_DIR / "kafka-broker.yml")
    cmd = render.kafka_jvm_command("java", Path("/c/libs"), "kafka.Kafka", ["server.properties"],
                                   heap="768m", log4j2=Path("/k/log4j2.xml"), java_agent=flag)
    assert flag == f"-javaagent:{JAR}=127.0.0.1:9404:{render.JMX_RULES_DIR}/kafka-broker.yml"
    assert cmd.index(flag) < cmd.index("-cp")  # a JVM option, before the main class
    assert render.jmx_agent_port(cmd) == 9404
    plain = render.kafka_jvm_command("java", Path("/c/libs"), "kafka.Kafka", [],
                                     heap="768m", log4j2=Path("/k/log4j2.xml"))
    assert not any(a.startswith("-javaagent:") for a in plain)
    assert render.jmx_agent_port(plain) is None


@pytest.mark.parametrize("port, attached", [(9409, True), (0, False)])
def test_connect_worker_gets_the_agent_when_its_port_is_set(port: int, attached: bool) -> None:
    cs = connect.ConnectSettings(metrics_port=port)
    cl = connect.ConnectLayout(Path("/tmp/nmc-home/connect"))
    cmd = connect.worker_command("java", Path("/c/libs"), cs, cl, [], JAR)
    assert render.jmx_agent_port(cmd) == (port if attached else None)
    if attached:
        assert cmd[cmd.index("-cp") - 1].endswith(":9409:" + str(
            render.JMX_RULES_DIR / "kafka-connect.yml"))


@pytest.mark.parametrize("rules, prefix", [("kafka-broker.yml", "kafka_"),
                                           ("kafka-connect.yml", "kafka_connect_")])
def test_rules_export_named_series_in_base_units(rules: str, prefix: str) -> None:
    config = yaml.safe_load((render.JMX_RULES_DIR / rules).read_text())
    assert config["includeObjectNames"], "scrape only the MBeans the rules read"
    assert config["lowercaseOutputName"] is True
    for rule in config["rules"]:
        name = rule["name"]
        re.compile(rule["pattern"])
        assert name.startswith(prefix), name
        assert (rule["type"] == "COUNTER") == name.endswith("_total"), name
        assert not re.search(r"(ms|millis|_per_?sec)$", name.lower()), f"base units: {name}"
        if name.endswith("_seconds"):  # Kafka and Debezium time their MBeans in ms
            assert rule["valueFactor"] == 0.001, name


def test_kafka_is_scraped_from_target_files_and_connect_is_a_process_job(
        tmp_path: Path) -> None:
    jobs = {job.name: job for job in local_jobs(Settings())}
    assert jobs[KAFKA_JOB].file_sd and jobs[KAFKA_JOB].targets == ()
    assert "connect" in PROCESS_JOBS and jobs["connect"].file_sd
    path = write_targets(tmp_path, KAFKA_JOB, "kafka-2", ["127.0.0.1:9405"])
    assert json.loads(path.read_text()) == [{"targets": ["127.0.0.1:9405"]}]
    remove_targets(tmp_path, KAFKA_JOB, "kafka-2")
    remove_targets(tmp_path, KAFKA_JOB, "kafka-2")  # twice: nothing left to remove
    assert not path.exists()


def test_the_down_alerts_select_every_job_the_stack_scrapes() -> None:
    rules = yaml.safe_load((RULES_DIR / "nmc.yml").read_text())["groups"][0]["rules"]
    exprs = {r["alert"]: r["expr"] for r in rules if "alert" in r}
    target_down = re.search(r'job=~"([^"]+)"', exprs["NmcTargetDown"])
    assert target_down is not None and set(target_down.group(1).split("|")) == set(PROCESS_JOBS)
    assert f'job="{KAFKA_JOB}"' in exprs["NmcKafkaDown"]
    assert 'job="registry"' in exprs["NmcRegistryDown"]


def test_a_running_process_command_line_is_read_and_a_gone_one_is_empty() -> None:
    script = "import time; print('ready', flush=True); time.sleep(30)"
    with subprocess.Popen([sys.executable, "-c", script, "marker"],
                          stdout=subprocess.PIPE) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == b"ready\n"
            assert pidfile.read_cmdline(child.pid) == [sys.executable, "-c", script, "marker"]
        finally:
            child.kill()
    assert pidfile.read_cmdline(child.pid) == []  # reaped: /proc has no such process
