"""Stream workers under crashes and outages, on the real stack.

Each test compares whole read-model tables with a clean, in-order reference run, and only after
the group has committed every record up to the end offsets (so "nothing changed" is asserted
after the duplicates and the replays were really consumed).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]
from rich.console import Console
from sqlalchemy import Engine, text
from support.settings import PlatformSettings as Settings
from support.streams import (
    IsolatedTopics,
    caught_up,
    dump,
    fresh_database,
    history,
    project_in_order,
    start_worker,
    stop_worker,
    wait_caught_up,
)
from support.waits import wait_until

from nmc.contract.envelope import Envelope, new_event
from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import admin_config, consumer_config, producer_config
from nmc.stack import ensure_up, pidfile, postgres
from nmc.stack.layout import Layout
from nmc.stack.model import local_services
from nmc.stack.procs import stop as stop_process

pytestmark = pytest.mark.fault  # `make test-stress` runs these under a CPU hog

APPS = ("conversation", "scheduling", "reporting")


@pytest.fixture
def topics(stack: Settings) -> Iterator[IsolatedTopics]:
    iso = IsolatedTopics(stack)
    yield iso
    iso.close()


def _dead_letters(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT app, error FROM stream_dead_letters")).all())


def _daily(engine: Engine, tenants: list[str]) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT * FROM rpt_daily WHERE tenant_id::text = ANY(:t) ORDER BY 1, 2"),
                {"t": tenants},
            ).all()
        )


def _reference(stack: Settings, apps: tuple[str, ...], events: list[Envelope],
               tenants: list[str]) -> tuple[dict[str, Any], list[Any]]:
    with fresh_database(stack) as url:
        engine = make_engine(url)
        try:
            ordered = sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))
            out = {}
            for app in apps:
                project_in_order(engine, app, ordered)
                out[app] = dump(engine, app, tenants)
            return out, _daily(engine, tenants)
        finally:
            engine.dispose()


@pytest.mark.parametrize("point", ["before-write", "after-commit", "after-ack"])
@pytest.mark.parametrize("app", APPS)
def test_sigkill_at_each_point_of_a_batch(
    stack: Settings, database_url: str, topics: IsolatedTopics, tmp_path: Path,
    app: str, point: str,
) -> None:
    """The worker kills itself (SIGKILL) at `point` of its 3rd batch; a new worker with an
    empty local directory takes over: the read models equal a clean run, nothing twice."""
    tenants = [str(uuid.uuid4()) for _ in range(3)]
    events = history(21, tenants, 40)
    prefix = f"test-crash-{uuid.uuid4().hex[:8]}"
    common: dict[str, Any] = dict(
        database_url=database_url, topic_suffix=topics.suffix, app_id_prefix=prefix,
        nmc_home=tmp_path, log_path=tmp_path / f"{app}.log",
    )
    topics.publish(events)
    crashing = start_worker(app, worker_id="w1", extra_env={
        "NMC_STREAMS_BATCH_MAX_EVENTS": "40",
        "NMC_STREAMS_CRASH_AFTER_BATCHES": "3",
        "NMC_STREAMS_CRASH_POINT": point,
    }, **common)
    try:
        assert crashing.wait(180) == -9, "the worker did not reach its crash point"
    finally:
        stop_worker(crashing)  # a worker that never crashed must not outlive the test
    engine = make_engine(database_url)
    worker = start_worker(app, worker_id="w2", **common)
    try:
        topics.publish(events[:100])  # replayed duplicates change nothing
        expected, expected_daily = _reference(stack, (app,), events, tenants)
        wait_caught_up(stack, f"{prefix}-{app}", topics.of_app(app))
        assert dump(engine, app, tenants) == expected[app]
        if app == "reporting":
            assert _daily(engine, tenants) == expected_daily
        assert _dead_letters(engine) == []
    finally:
        stop_worker(worker)
        engine.dispose()


def test_fresh_app_ids_on_a_busy_broker_dead_letter_nothing(
    stack: Settings, database_url: str, topics: IsolatedTopics, tmp_path: Path
) -> None:
    """Every deployment starts with a new group: its topics are created and verified before
    its agents subscribe, so no valid event is dead-lettered while the broker is busy."""
    tenants = [str(uuid.uuid4()) for _ in range(3)]
    events = history(22, tenants, 20)
    topics.publish(events)
    stop = threading.Event()
    busy_topic = f"nmc.busy.{uuid.uuid4().hex[:8]}"

    def flood() -> None:
        producer = Producer(producer_config(stack, **{"linger.ms": 0}))
        payload = b"x" * 2048
        while not stop.is_set():
            for _ in range(2000):
                try:
                    producer.produce(busy_topic, value=payload)
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        producer.flush(30)

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    prefix = f"test-fresh-{uuid.uuid4().hex[:8]}"
    workers = [
        start_worker(app, database_url=database_url, topic_suffix=topics.suffix,
                     app_id_prefix=prefix, nmc_home=tmp_path, worker_id=f"{app}-w1",
                     log_path=tmp_path / f"{app}.log")
        for app in APPS
    ]
    engine = make_engine(database_url)
    try:
        expected, _ = _reference(stack, APPS, events, tenants)
        for app in APPS:
            wait_caught_up(stack, f"{prefix}-{app}", topics.of_app(app))
        stop.set()
        assert _dead_letters(engine) == []
        for app in APPS:
            assert dump(engine, app, tenants) == expected[app], app
    finally:
        stop.set()
        flooder.join(60)
        for w in workers:
            stop_worker(w)
        engine.dispose()


def _local_only(stack: Settings) -> None:
    local = local_services(stack)
    if not (local["postgres"] and local["registry"]):
        pytest.skip("stops and restarts PostgreSQL and the registry, which it may only do to "
                    "the local stack; DATABASE_URL / SCHEMA_REGISTRY_URL point at external ones")


@pytest.mark.serial
def test_postgres_restart_and_registry_outage_lose_and_dead_letter_nothing(
    stack: Settings, database_url: str, topics: IsolatedTopics, tmp_path: Path
) -> None:
    _local_only(stack)
    console = Console(stderr=True)
    layout = Layout.of(stack)
    tenants = [str(uuid.uuid4()) for _ in range(3)]
    events = history(23, tenants, 60)
    first, later = events[: len(events) // 2], events[len(events) // 2 :]
    prefix = f"test-outage-{uuid.uuid4().hex[:8]}"
    common: dict[str, Any] = dict(
        database_url=database_url, topic_suffix=topics.suffix, app_id_prefix=prefix,
        nmc_home=tmp_path,
    )
    topics.publish(first)
    # the registry is down before the workers start: their schema caches are empty, so every
    # first decode needs it (an outage to wait out, not a reason to dead-letter)
    record = pidfile.read(layout.pidfile("registry"))
    assert record is not None
    stop_process(record, 30)
    workers = [
        start_worker(app, worker_id=f"{app}-w1", log_path=tmp_path / f"{app}.log",
                     extra_env={"NMC_STREAMS_BATCH_MAX_EVENTS": "50"}, **common)
        for app in APPS
    ]
    engine = make_engine(database_url)
    try:
        topics_by_app = {app: topics.of_app(app) for app in APPS}
        logs = [tmp_path / f"{app}.log" for app in APPS]
        try:  # every worker is seen retrying its decode while the registry is away
            wait_until(lambda: all("decode failed" in log.read_text() for log in logs),
                       "every worker to meet the registry outage", 120)
        finally:
            ensure_up(stack, console)
        for app in APPS:
            wait_caught_up(stack, f"{prefix}-{app}", topics_by_app[app])
        # PostgreSQL goes away: the batches of the second half are taken while it is down
        postgres.stop(layout, lambda m: console.print(m))
        try:  # a worker is seen failing to load while PostgreSQL is down
            topics.publish(later)
            wait_until(lambda: any("load failed" in log.read_text() for log in logs),
                       "a worker to meet the PostgreSQL outage", 120)
        finally:
            ensure_up(stack, console)
        for app in APPS:
            wait_caught_up(stack, f"{prefix}-{app}", topics_by_app[app], timeout=240)
        expected, expected_daily = _reference(stack, APPS, events, tenants)
        assert _dead_letters(engine) == []
        for app in APPS:
            assert dump(engine, app, tenants) == expected[app], app
        assert _daily(engine, tenants) == expected_daily
        logs = "".join((tmp_path / f"{app}.log").read_text() for app in APPS)
        # both outages were met and waited out, not dead-lettered
        assert "decode failed" in logs and "load failed" in logs
    finally:
        ensure_up(stack, console)
        for w in workers:
            stop_worker(w)
        engine.dispose()


def test_a_conversation_of_2000_messages(
    stack: Settings, database_url: str, topics: IsolatedTopics, tmp_path: Path
) -> None:
    """Right counts, and the state an event touches stays the same size from the 1st message
    to the 2,000th (per-message entities), so the last events cost what the first did."""
    tenant, corr, conversation = (str(uuid.uuid4()) for _ in range(3))
    t0 = datetime(2025, 9, 1, tzinfo=UTC)
    events = [new_event("nmc.conversation.ConversationStarted", tenant_id=tenant,
                        correlation_id=corr, occurred_at=t0,
                        payload={"conversation_id": conversation,
                                 "caller_phone": "+13105551212"})]
    for i in range(2000):
        events.append(new_event(
            "nmc.conversation.MessageSent", tenant_id=tenant, correlation_id=corr,
            occurred_at=t0 + timedelta(seconds=i + 1),
            payload={"message_id": str(uuid.uuid4()), "conversation_id": conversation,
                     "direction": "out", "status": "queued"}))
    topics.publish(events)
    prefix = f"test-long-{uuid.uuid4().hex[:8]}"
    workers = [
        start_worker(app, database_url=database_url, topic_suffix=topics.suffix,
                     app_id_prefix=prefix, nmc_home=tmp_path, worker_id=f"{app}-w1",
                     log_path=tmp_path / f"{app}.log",
                     extra_env={"NMC_STREAMS_BATCH_MAX_EVENTS": "7"})
        for app in ("conversation", "reporting")
    ]
    engine = make_engine(database_url)
    try:
        for app in ("conversation", "reporting"):
            wait_caught_up(stack, f"{prefix}-{app}", [topics.topics["conversation"]])
        with engine.connect() as conn:
            count, version = conn.execute(
                text("SELECT message_count, version FROM conv_conversations "
                     "WHERE conversation_id = :c"), {"c": conversation},
            ).one()
            messages = conn.execute(
                text("SELECT count(*) FROM rpt_facts WHERE tenant_id = :t AND metric = 'message'"),
                {"t": tenant},
            ).scalar_one()
            largest = conn.execute(
                text("SELECT app, max(jsonb_array_length(jsonb_path_query_array(state, "
                     "'$.f.keyvalue()'))) FROM stream_state WHERE key = :k GROUP BY app"),
                {"k": f"{tenant}:{corr}"},
            ).all()
        assert (count, version, messages) == (2000, 2001, 2000)
        assert dict(largest) == {"conversation": 1, "reporting": 1}
    finally:
        for w in workers:
            stop_worker(w)
        engine.dispose()


def test_a_stalled_worker_heals_itself(
    stack: Settings, database_url: str, topics: IsolatedTopics, tmp_path: Path
) -> None:
    """A worker whose partitions stop fetching (injected after its 2nd batch) is found by its
    watchdog, which seeks and resumes them: every event is processed, nothing dead-lettered."""
    tenants = [str(uuid.uuid4()) for _ in range(3)]
    events = history(24, tenants, 30)
    first, later = events[: len(events) // 2], events[len(events) // 2 :]
    topics.publish(first)
    prefix = f"test-stall-{uuid.uuid4().hex[:8]}"
    worker = start_worker("scheduling", database_url=database_url, topic_suffix=topics.suffix,
                          app_id_prefix=prefix, nmc_home=tmp_path, worker_id="w1",
                          log_path=tmp_path / "scheduling.log",
                          extra_env={"NMC_STREAMS_BATCH_MAX_EVENTS": "20",
                                     "NMC_STREAMS_CRASH_AFTER_BATCHES": "2",
                                     "NMC_STREAMS_CRASH_POINT": "pause",
                                     "NMC_STREAMS_STALL_CHECK_S": "3"})
    engine = make_engine(database_url)
    try:
        wait_caught_up(stack, f"{prefix}-scheduling", [topics.topics["scheduling"]], timeout=120)
        topics.publish(later)  # arrives while the worker fetches nothing
        wait_caught_up(stack, f"{prefix}-scheduling", [topics.topics["scheduling"]], timeout=120)
        expected, _ = _reference(stack, ("scheduling",), events, tenants)
        assert dump(engine, "scheduling", tenants) == expected["scheduling"]
        assert _dead_letters(engine) == []
        assert "no batch for" in (tmp_path / "scheduling.log").read_text()
    finally:
        stop_worker(worker)
        engine.dispose()


def test_records_gone_under_retention_are_not_a_stall(
    stack: Settings, database_url: str, topics: IsolatedTopics, tmp_path: Path
) -> None:
    """Records published while no worker ran and then deleted (retention, here `DeleteRecords`)
    leave the group committed below the log start: nothing is left to read. The watchdog must
    not call the idle worker stalled (it used to restart it every few seconds, for ever); the
    worker reads what comes next and the read models are those of the events it could see."""
    tenants = [str(uuid.uuid4()) for _ in range(3)]
    events = history(31, tenants, 12)
    seen, gone, later = events[:120], events[120:200], events[200:]
    prefix = f"test-retained-{uuid.uuid4().hex[:8]}"
    group = f"{prefix}-scheduling"
    sources = topics.of_app("scheduling")
    common: dict[str, Any] = dict(
        database_url=database_url, topic_suffix=topics.suffix, app_id_prefix=prefix,
        nmc_home=tmp_path, log_path=tmp_path / "scheduling.log",
        extra_env={"NMC_STREAMS_STALL_CHECK_S": "4"},
    )
    topics.publish(seen)
    first = start_worker("scheduling", worker_id="w1", **common)
    try:
        wait_caught_up(stack, group, sources)
    finally:
        stop_worker(first)
    topics.publish(gone)
    admin = AdminClient(admin_config(stack))
    doomed = [
        TopicPartition(t, p, OFFSET_END)
        for t in sources for p in range(stack.nmc_topic_partitions)
    ]
    for future in admin.delete_records(doomed).values():
        future.result(30)
    reader = Consumer(consumer_config(stack, group))
    try:
        below = [
            tp for tp in reader.committed(doomed, timeout=10)
            if 0 <= tp.offset < reader.get_watermark_offsets(tp, timeout=10)[0]
        ]
    finally:
        reader.close()
    assert below, "the group should now be committed below some partition's start"
    assert caught_up(stack, group, sources), "nothing is left to read: the group is not behind"
    engine = make_engine(database_url)
    second = start_worker("scheduling", worker_id="w2", **common)
    try:
        time.sleep(14)  # three watchdog checks with nothing to read
        assert second.poll() is None
        assert "no batch for" not in (tmp_path / "scheduling.log").read_text()
        topics.publish(later)
        wait_caught_up(stack, group, sources)
        expected, _ = _reference(stack, ("scheduling",), seen + later, tenants)
        assert dump(engine, "scheduling", tenants) == expected["scheduling"]
        assert _dead_letters(engine) == []
        assert "no batch for" not in (tmp_path / "scheduling.log").read_text()
    finally:
        stop_worker(second)
        engine.dispose()


def test_a_wedged_worker_restarts_itself_in_place(
    stack: Settings, database_url: str, topics: IsolatedTopics, tmp_path: Path
) -> None:
    """A worker whose agent stops taking batches (injected after its 2nd batch) is not cured
    by a seek: at the next check the watchdog re-executes the process (same pid), which
    processes everything; nothing dead-lettered, read models equal a clean run."""
    tenants = [str(uuid.uuid4()) for _ in range(3)]
    events = history(25, tenants, 30)
    topics.publish(events)
    prefix = f"test-wedge-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "scheduling.log"
    worker = start_worker("scheduling", database_url=database_url, topic_suffix=topics.suffix,
                          app_id_prefix=prefix, nmc_home=tmp_path, worker_id="w1",
                          log_path=log,
                          extra_env={"NMC_STREAMS_BATCH_MAX_EVENTS": "20",
                                     "NMC_STREAMS_CRASH_AFTER_BATCHES": "2",
                                     "NMC_STREAMS_CRASH_POINT": "wedge",
                                     "NMC_STREAMS_STALL_CHECK_S": "5"})
    engine = make_engine(database_url)
    try:
        wait_caught_up(stack, f"{prefix}-scheduling", [topics.topics["scheduling"]], timeout=150)
        assert worker.poll() is None, "the worker process ended instead of restarting in place"
        expected, _ = _reference(stack, ("scheduling",), events, tenants)
        assert dump(engine, "scheduling", tenants) == expected["scheduling"]
        assert _dead_letters(engine) == []
        text = log.read_text()
        assert "seeking to committed (or earliest) offsets and resuming" in text
        assert "restarting the worker process" in text
    finally:
        stop_worker(worker)
        engine.dispose()
