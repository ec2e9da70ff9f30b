"""The Connect worker's JMX exporter (`NMC_CONNECT_METRICS_PORT`, rules
deploy/jmx/kafka-connect.yml): the session's worker (the CDC tests' one: a stack home has one
worker, so these tests share its xdist group) runs the Debezium connector on the test's
database; its `/metrics` shows connector and task running, the records polled and written once
events are committed, and Debezium's connection; every dashboard query of job `connect`
(deploy/grafana/) returns data from a Prometheus scraping it; a worker stopped on purpose leaves
the `connect` scrape job and rejoins it when started again."""

from __future__ import annotations

import json

import httpx
import pytest
from cdc_support import cdc_connector, connect_worker, ensure_worker  # noqa: F401
from prometheus_client.parser import text_string_to_metric_families
from prometheus_support import own_prometheus, wait_panels_have_data
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from support.dashboards import dashboard_files, jvm_job, load, queries
from support.settings import PlatformSettings as Settings
from support.waits import wait_until
from test_relay_contract import _all_events

from nmc.contract.envelope import parse_event
from nmc.stack import connect
from nmc.stack.layout import Layout
from nmc.stack.prometheus import targets_dir
from nmc.stack.prometheus_config import write_targets
from producers.outbox import OutboxWriter

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


pytestmark = pytest.mark.xdist_group("connect")


@pytest.fixture
def worker(connect_worker: connect.ConnectSettings) -> connect.ConnectSettings:  # noqa: F811
    return connect_worker


def series(cs: connect.ConnectSettings) -> Series:
    text = httpx.get(f"http://127.0.0.1:{cs.metrics_port}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_worker_exports_connector_state_records_and_debezium(
    stack: Settings, test_settings: Settings, engine: Engine,
    worker: connect.ConnectSettings,
) -> None:
    target = targets_dir(Layout.of(stack)) / "connect-worker.json"
    assert json.loads(target.read_text()) == [
        {"targets": [f"127.0.0.1:{worker.metrics_port}"]}]
    envelopes = _all_events()
    with cdc_connector(test_settings, worker) as connector:
        name = connector.name
        with Session(engine) as session, session.begin():
            assert OutboxWriter().append_all(
                session, [parse_event(e) for e in envelopes]) == len(envelopes)
        written = ("kafka_connect_source_task_records_write_total",
                   (("connector", name), ("task", "0")))
        wait_until(lambda: series(worker).get(written, 0.0) >= len(envelopes),
                   f"{written} >= {len(envelopes)}",
                   explain=lambda: str({k: v for k, v in series(worker).items()
                                       if k[0].startswith("kafka_connect")}))
        seen = series(worker)
    assert seen[("kafka_connect_connector_status",
                 (("connector", name), ("status", "running")))] == 1
    assert seen[("kafka_connect_task_status",
                 (("connector", name), ("status", "running"), ("task", "0")))] == 1
    assert seen[("kafka_connect_worker_connector_tasks",
                 (("connector", name), ("state", "running")))] == 1
    assert seen[("kafka_connect_source_task_records_poll_total",
                 (("connector", name), ("task", "0")))] >= len(envelopes)
    for errors in ("record_failures", "retries", "records_skipped"):  # a healthy task: none
        assert seen[(f"kafka_connect_task_{errors}_total",
                     (("connector", name), ("task", "0")))] == 0, errors
    debezium = {labels: v for (metric, labels), v in seen.items()
                if metric == "kafka_connect_debezium_connected"}
    assert list(debezium.values()) == [1], debezium
    lag = [v for (metric, _), v in seen.items() if metric == "kafka_connect_debezium_lag_seconds"]
    assert len(lag) == 1 and lag[0] < 3600  # seconds behind the commits, not milliseconds


def test_every_connect_dashboard_query_returns_data(
    stack: Settings, test_settings: Settings, engine: Engine,
    worker: connect.ConnectSettings,
) -> None:
    """The dashboards' `connect` panels against a Prometheus scraping the session's worker
    while it runs the Debezium connector on the test's database and streams its events; the
    stack's rules loaded, NmcConnectorFailed stays quiet on the healthy connector."""
    found = [q for path in dashboard_files() for q in queries(load(path))
             if jvm_job(q.expr) == connect.NAME]
    envelopes = _all_events()
    with own_prometheus(stack, "prometheus-connect", None) as prom, \
            cdc_connector(test_settings, worker) as connector:
        write_targets(prom.targets_dir, connect.NAME, "worker",
                      [f"127.0.0.1:{worker.metrics_port}"])
        wait_until(lambda: bool(prom.query('up{job="connect"} == 1')),
                   "the worker scraped once", explain=prom.summary)
        with Session(engine) as session, session.begin():
            OutboxWriter().append_all(session, [parse_event(e) for e in envelopes])
        written = ("kafka_connect_source_task_records_write_total",
                   (("connector", connector.name), ("task", "0")))
        wait_until(lambda: series(worker).get(written, 0.0) >= len(envelopes),
                   f"{written} >= {len(envelopes)}")
        wait_panels_have_data(prom, found)
        assert "NmcConnectorFailed" in prom.rule_names()
        assert prom.alert_state("NmcConnectorFailed") is None, prom.summary()


def test_a_worker_stopped_on_purpose_leaves_the_scrape_job(
    stack: Settings, worker: connect.ConnectSettings,
) -> None:
    layout = Layout.of(stack)
    target = targets_dir(layout) / "connect-worker.json"
    assert target.exists()
    connect.stop(layout, Console(stderr=True).print)
    try:
        assert not target.exists()
        assert not connect.rest_ok(worker)
    finally:
        ensure_worker(stack)  # the session's worker, back for the tests after this one
    assert json.loads(target.read_text()) == [{"targets": [f"127.0.0.1:{worker.metrics_port}"]}]
