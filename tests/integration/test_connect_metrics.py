"""The Connect worker's JMX exporter (`NMC_CONNECT_METRICS_PORT`, rules
deploy/jmx/kafka-connect.yml): a worker of this test's own (REST and metrics ports shifted by
10, so neither `nmc connect up` nor the CDC tests' worker is touched) runs the Debezium
connector on the test's database; its `/metrics` shows connector and task running, the records
polled and written once events are committed, and Debezium's connection; `nmc connect down`
takes the worker out of the `connect` scrape job."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from cdc_support import cdc_connector
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from support.waits import wait_until
from test_relay_contract import _all_events

from nmc.contract.envelope import parse_event
from nmc.infra.settings import Settings, get_versions
from nmc.stack import connect
from nmc.stack.layout import Layout
from nmc.stack.prometheus import targets_dir
from producers.outbox import OutboxWriter

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def worker(stack: Settings) -> Iterator[connect.ConnectSettings]:
    defaults = connect.ConnectSettings()
    cs = connect.ConnectSettings(port=defaults.port + 10,
                                 metrics_port=(defaults.metrics_port or 9409) + 10)
    layout = Layout.of(stack)
    say = Console(stderr=True).print
    connect.start(stack, cs, get_versions(), layout, say, with_connector=False)
    try:
        yield cs
    finally:
        connect.stop(layout, say)


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
    debezium = {labels: v for (metric, labels), v in seen.items()
                if metric == "kafka_connect_debezium_connected"}
    assert list(debezium.values()) == [1], debezium
    lag = [v for (metric, _), v in seen.items() if metric == "kafka_connect_debezium_lag_seconds"]
    assert len(lag) == 1 and lag[0] < 3600  # seconds behind the commits, not milliseconds


def test_a_worker_stopped_on_purpose_leaves_the_scrape_job(
    stack: Settings, worker: connect.ConnectSettings,
) -> None:
    layout = Layout.of(stack)
    assert (targets_dir(layout) / "connect-worker.json").exists()
    connect.stop(layout, Console(stderr=True).print)
    assert not (targets_dir(layout) / "connect-worker.json").exists()
    assert not connect.rest_ok(worker)
