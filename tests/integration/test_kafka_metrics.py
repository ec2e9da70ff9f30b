"""The local broker's JMX exporter (`NMC_KAFKA_METRICS_PORT`, rules deploy/jmx/kafka-broker.yml):
a Kafka of its own (the shared stack is never restarted) started with the agent answers
`/metrics` with the rules' series in base units, `nmc stack up` names it in the `kafka`
scrape job's target file, and every dashboard query of job `kafka` (deploy/grafana/) returns
data from a Prometheus scraping it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cluster_support import extra_kafka
from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families
from prometheus_support import own_prometheus, wait_panels_have_data
from support.dashboards import dashboard_files, jvm_job, load, queries
from support.settings import PlatformSettings as Settings
from support.waits import wait_until

from nmc.infra.kafka_clients import admin_config, consumer_config, producer_config
from nmc.infra.settings import PROJECT_ROOT
from nmc.stack import pidfile, render
from nmc.stack.layout import Layout
from nmc.stack.prometheus import targets_dir
from nmc.stack.prometheus_config import KAFKA_JOB, write_targets

pytestmark = pytest.mark.xdist_group("extra-ports")  # ports of the main stack + 2..

NAME = "jmx"


@pytest.fixture(scope="module")
def broker(stack: Settings) -> Iterator[tuple[Settings, int]]:
    base = stack.model_copy(
        update={"nmc_kafka_metrics_port": stack.nmc_kafka_metrics_port or 9404})
    port = base.nmc_kafka_metrics_port + 10  # as extra_kafka shifts it
    with extra_kafka(base, NAME) as clients:
        yield clients, port


def samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_agent_serves_the_rules_series_in_base_units(broker: tuple[Settings, int]) -> None:
    clients, port = broker
    topic = f"jmx-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(admin_config(clients))
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    producer = Producer(producer_config(clients))
    for i in range(10):
        producer.produce(topic, key=str(i).encode(), value=b"x" * 100)
    assert producer.flush(30) == 0

    messages_in = ("kafka_server_brokertopicmetrics_messagesin_total", (("topic", topic),))
    wait_until(lambda: samples(port).get(messages_in, 0.0) == 10,
               f"{messages_in} == 10 (the records produced)",
               explain=lambda: str({k: v for k, v in samples(port).items()
                                   if "brokertopic" in k[0]}))
    seen = samples(port)
    assert seen[("kafka_server_replicamanager_underreplicatedpartitions", ())] == 0
    assert seen[("kafka_controller_kafkacontroller_activecontrollercount", ())] == 1
    assert seen[("kafka_controller_kafkacontroller_offlinepartitionscount", ())] == 0
    # bytes as stored (the producer compresses 10 x 100 bytes of "x" well below 1000)
    assert seen[("kafka_server_brokertopicmetrics_bytesin_total", (("topic", topic),))] > 0
    produce_p99 = seen[("kafka_network_requestmetrics_totaltime_seconds",
                        (("quantile", "0.99"), ("request", "Produce")))]
    assert 0 <= produce_p99 < 60  # seconds, not Kafka's milliseconds scaled wrongly by 1000
    assert seen[("kafka_network_requestmetrics_requests_total",
                 (("request", "Produce"),))] >= 1
    # only the rules' series (and the agent's JVM ones): no unfiltered MBean dump
    assert {name for name, _ in seen if name.startswith("kafka_")} <= {
        "kafka_server_replicamanager_underreplicatedpartitions",
        "kafka_server_replicamanager_partitioncount",
        "kafka_server_replicamanager_leadercount",
        "kafka_controller_kafkacontroller_activecontrollercount",
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        "kafka_server_brokertopicmetrics_bytesin_total",
        "kafka_server_brokertopicmetrics_bytesout_total",
        "kafka_server_brokertopicmetrics_messagesin_total",
        "kafka_network_requestmetrics_totaltime_seconds",
        "kafka_network_requestmetrics_requests_total",
    }


def test_the_running_node_is_in_the_kafka_scrape_job(broker: tuple[Settings, int]) -> None:
    _, port = broker
    layout = Layout(home=PROJECT_ROOT / ".nmc-test" / NAME)
    record = pidfile.read(layout.pidfile("kafka"))
    assert record is not None
    cmdline = Path(f"/proc/{record.pid}/cmdline").read_bytes().decode().split("\0")
    assert render.jmx_agent_port(cmdline) == port  # what `up` reads for a running node
    target = json.loads((targets_dir(layout) / "kafka-kafka.json").read_text())
    assert target == [{"targets": [f"127.0.0.1:{port}"]}]


def test_prometheus_scrapes_the_node_through_the_kafka_job_and_stays_quiet(
    stack: Settings, broker: tuple[Settings, int],
) -> None:
    """The stack's scrape jobs and rules on a real Prometheus: the node added by a `kafka`
    target file (as `nmc stack up` adds it) is up, its series are queryable by the rules'
    selectors, and no broker alert is pending on a healthy node."""
    _, port = broker
    target = f"127.0.0.1:{port}"
    with own_prometheus(stack, "prometheus-kafka", None) as prom:
        write_targets(prom.targets_dir, KAFKA_JOB, "jmx", [target])

        def scraped() -> bool:
            return bool(
                prom.query(f'up{{job="kafka",instance="{target}"}} == 1')
                and prom.query('sum(kafka_controller_kafkacontroller_activecontrollercount'
                               '{job="kafka"}) == 1')
                and prom.query('sum(kafka_server_replicamanager_underreplicatedpartitions'
                               '{job="kafka"}) == 0'))

        wait_until(scraped, "the node up in job kafka with one active controller",
                   explain=prom.summary)
        assert {"NmcKafkaDown", "NmcKafkaUnderReplicatedPartitions",
                "NmcKafkaActiveControllers"} <= prom.rule_names()
        broker_alerts = [a for a in prom.alerts()
                         if a["labels"]["alertname"].startswith("NmcKafka")]
        assert broker_alerts == [], broker_alerts


def test_every_kafka_dashboard_query_returns_data(
    stack: Settings, broker: tuple[Settings, int],
) -> None:
    """The dashboards' `kafka` panels against a Prometheus scraping this node: records produced
    and consumed (bytes in and out, Produce and FetchConsumer requests), then every query of
    job `kafka` returns a finite sample."""
    clients, port = broker
    found = [q for path in dashboard_files() for q in queries(load(path))
             if jvm_job(q.expr) == KAFKA_JOB]
    topic = f"jmx-dash-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(admin_config(clients))
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    with own_prometheus(stack, "prometheus-kafka", None) as prom:
        write_targets(prom.targets_dir, KAFKA_JOB, "jmx", [f"127.0.0.1:{port}"])
        wait_until(lambda: bool(prom.query(f'up{{job="kafka",instance="127.0.0.1:{port}"}}')),
                   "the node scraped once", explain=prom.summary)
        producer = Producer(producer_config(clients))
        for i in range(20):
            producer.produce(topic, key=str(i).encode(), value=b"y" * 200)
        assert producer.flush(30) == 0
        consumer = Consumer(consumer_config(clients, group_id=f"{topic}-reader"))
        consumer.subscribe([topic])
        read: list[Message] = []

        def all_read() -> bool:
            read.extend(m for m in consumer.consume(20, 0.5) if m.error() is None)
            return len(read) >= 20

        try:
            wait_until(all_read, "the 20 records consumed back")
            consumer.commit(asynchronous=False)  # an OffsetCommit too
        finally:
            consumer.close()
        wait_panels_have_data(prom, found)
