"""`nmc stack up --brokers 3`: kill -9 the partition leader's broker under steady outbox load.

Three combined KRaft nodes on loopback, topics with replication factor 3 and
`min.insync.replicas=2`. A writer commits events through the outbox at a steady rate, one relay
publishes them and a conversation stream worker projects them; mid-load the broker leading the
busiest partition is SIGKILLed and later started again. Nothing may be lost, every key keeps its
order, the relay thread never stops, and the stream app's read models equal a clean in-order
projection. The figures are printed (README.md "Three brokers" records one run).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cluster_support import extra_kafka
from confluent_kafka.admin import AdminClient, ConfigResource
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings
from support.streams import (
    dump,
    fresh_database,
    history,
    project_in_order,
    start_worker,
    stop_worker,
    wait_caught_up,
)
from support.waits import scaled, wait_until

from nmc.bootstrap import prepare
from nmc.contract.envelope import Envelope
from nmc.contract.keys import java_partition
from nmc.infra.consume import end_offsets, read_records
from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import admin_config, domain_topics
from nmc.stack import ensure_up, pidfile
from nmc.stack.layout import Layout
from producers.outbox import OutboxWriter

pytestmark = pytest.mark.xdist_group("extra-ports")  # ports of the main stack + 2..

RATE = 100  # events/s committed by the writer
OUTAGE_EVENTS = 300  # events the writer commits while the killed broker is down
APP = "conversation"


@pytest.fixture(scope="module")
def cluster(stack: Settings) -> Iterator[Settings]:
    with extra_kafka(stack, "three", brokers=3) as settings:
        prepare(settings, register=False)

        def replicated() -> bool:  # topics just created: leaders and ISRs still settling
            admin = AdminClient({**admin_config(settings), "log_level": 0})
            for topic in domain_topics():
                for p in admin.list_topics(topic, timeout=10).topics[topic].partitions.values():
                    if p.leader < 0 or len(p.isrs) < 3:
                        return False
            return True

        wait_until(replicated, "every partition to have a leader and three in-sync replicas", 60)
        yield settings


def _leader_and_isr(settings: Settings, topic: str, partition: int) -> tuple[int, list[int]]:
    admin = AdminClient({**admin_config(settings), "log_level": 0})
    meta = admin.list_topics(topic, timeout=10).topics[topic].partitions[partition]
    return meta.leader, list(meta.isrs)


def _recent(events: list[Envelope]) -> list[Envelope]:
    """The history moved to end minutes ago: record timestamps are event times, and records
    older than the broker's retention (168 h) would be deleted while the test reads them."""
    shift = datetime.now(UTC) - timedelta(minutes=5) - max(e.occurred_at for e in events)
    return [e.model_copy(update={"occurred_at": e.occurred_at + shift}) for e in events]


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM outbox_events WHERE state <> 'published'")).scalar_one())


def _write_steadily(engine: Engine, events: list[Envelope], written: list[Envelope],
                    stop: threading.Event, killed: threading.Event) -> None:
    """One transaction per event at RATE events/s: per key, commit order = list order. At
    two thirds of the events it waits for the kill, so the kill always lands mid-load."""
    began = time.monotonic()
    for i, event in enumerate(events):
        if i == 2 * len(events) // 3 and not killed.is_set():
            killed.wait()
            began = time.monotonic() - i / RATE
        if stop.is_set():
            return
        with Session(engine) as session, session.begin():
            OutboxWriter().append(session, event)
        written.append(event)
        delay = began + (i + 1) / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def test_topics_are_replicated_three_times_with_min_isr_2(cluster: Settings) -> None:
    admin = AdminClient({**admin_config(cluster), "log_level": 0})
    for topic in domain_topics():
        partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
        assert {len(p.replicas) for p in partitions.values()} == {3}
    resource = ConfigResource("broker", "1")
    config = admin.describe_configs([resource])[resource].result()
    assert config["min.insync.replicas"].value == "2"


@pytest.mark.fault
def test_leader_killed_mid_load_loses_nothing_and_keeps_order(
    cluster: Settings, database_url: str, engine: Engine, tmp_path: Path,
) -> None:
    from producers.relay.app import run_relay

    settings = cluster.model_copy(update={"database_url": SecretStr(database_url)})
    tenants = [str(uuid.uuid4()) for _ in range(40)]
    events = _recent(history(11, tenants, 6))
    first_key = events[0].key
    topic = events[0].topic
    partition = java_partition(first_key, settings.nmc_topic_partitions)
    start = end_offsets(settings, domain_topics())

    prefix = f"test-3b-{uuid.uuid4().hex[:8]}"
    worker = start_worker(
        APP, database_url=database_url, topic_suffix="", app_id_prefix=prefix,
        nmc_home=tmp_path, worker_id="w1", log_path=tmp_path / "worker.log",
        extra_env={
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka,
            "NMC_TOPIC_REPLICATION": "3",
            "SCHEMA_REGISTRY_URL": settings.registry,
        },
    )
    relay_stop, writer_stop, killed = threading.Event(), threading.Event(), threading.Event()
    relay = threading.Thread(target=run_relay, args=(settings, settings, relay_stop), daemon=True)
    written: list[Envelope] = []
    writer = threading.Thread(
        target=_write_steadily, args=(engine, events, written, writer_stop, killed), daemon=True
    )
    figures: dict[str, Any] = {}
    try:
        relay.start()
        writer.start()
        # the kill lands at an observed state: a third of the events committed and published
        # (the writer holds at two thirds until the kill, so events are always still coming)
        wait_until(lambda: len(written) >= len(events) // 3 and _pending(engine) < len(written),
                   "a third of the events written and the relay publishing", 120,
                   explain=lambda: f"{len(written)} written, {_pending(engine)} pending")
        leader, _ = _leader_and_isr(settings, topic, partition)
        layout = Layout.of(settings)
        record = pidfile.read(layout.pidfile(layout.kafka_node(leader)))
        assert record is not None and pidfile.is_alive(record)
        killed_at = time.monotonic()
        os.kill(record.pid, signal.SIGKILL)
        written_at_kill = len(written)
        killed.set()
        assert written_at_kill < len(events), "the kill did not land mid-load"

        def new_leader() -> bool:  # elected among the surviving replicas
            try:
                now, _ = _leader_and_isr(settings, topic, partition)
            except Exception:
                return False
            return now not in (leader, -1)

        wait_until(new_leader, "a new leader among the surviving replicas", 60)
        figures["new leader after (s)"] = round(time.monotonic() - killed_at, 2)
        wait_until(lambda: len(written) >= min(written_at_kill + OUTAGE_EVENTS, len(events)),
                   f"{OUTAGE_EVENTS} events written while the broker is down", 60,
                   explain=lambda: f"{len(written) - written_at_kill} written since the kill")
        assert relay.is_alive(), "the relay stopped while a broker was down"
        restarted_at = time.monotonic()
        ensure_up(settings, Console(stderr=True))
        wait_until(lambda: len(_leader_and_isr(settings, topic, partition)[1]) == 3,
                   "the killed broker to rejoin the ISR", 120,
                   explain=lambda: f"ISR {_leader_and_isr(settings, topic, partition)[1]}")
        figures["back in ISR after restart (s)"] = round(time.monotonic() - restarted_at, 2)
        writer.join(timeout=scaled(120))
        assert not writer.is_alive()
        wait_until(lambda: not relay.is_alive() or not _pending(engine), "the outbox drained",
                   120, explain=lambda: f"{_pending(engine)} rows pending")
        assert relay.is_alive(), "the relay stopped"

        ids = {str(e.event_id) for e in written}
        records = read_records(
            settings, start, until=lambda rs: {r.headers["event_id"] for r in rs} >= ids,
            keep=lambda h: h.get("event_id") in ids,
        )
        seen: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
            if r.headers["event_id"] not in seen[(r.topic, r.key)]:
                seen[(r.topic, r.key)].append(r.headers["event_id"])
        expected: dict[tuple[str, str], list[str]] = defaultdict(list)
        for e in written:
            expected[(e.topic, e.key)].append(str(e.event_id))
        lost = ids - {r.headers["event_id"] for r in records}
        violations = sum(1 for k, order in expected.items() if seen.get(k) != order)
        figures |= {
            "events written": len(written),
            "written before the kill": written_at_kill,
            "records read": len(records),
            "duplicates": len(records) - len(ids) + len(lost),
            "lost": len(lost),
            "keys with order violations": violations,
        }

        wait_caught_up(settings, f"{prefix}-{APP}", ["nmc.telephony", "nmc.conversation"],
                       timeout=300)
        with fresh_database(settings) as ref_url:
            ref = make_engine(ref_url)
            try:
                project_in_order(ref, APP, sorted(written, key=lambda e: (e.occurred_at,
                                                                       str(e.event_id))))
                reference = dump(ref, APP, tenants)
            finally:
                ref.dispose()
        with engine.connect() as conn:
            dead = conn.execute(text("SELECT count(*) FROM stream_dead_letters")).scalar_one()
        figures["stream dead letters"] = int(dead)
        print("\nthree-broker kill figures:", figures)
        assert lost == set()
        assert violations == 0
        assert dead == 0
        assert dump(engine, APP, tenants) == reference
    finally:
        writer_stop.set()
        relay_stop.set()
        relay.join(timeout=30)
        stop_worker(worker)
