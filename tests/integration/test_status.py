"""`nmc status` against the real stack: a running relay, the outbox, a consumer group's lag
and a dead letter, each seen by the probe; the exit code follows health (own database, unique
group names)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings
from typer.testing import CliRunner

from nmc.cli import app
from nmc.contract.envelope import parse_event
from nmc.contract.examples import example_envelopes
from nmc.infra.consume import end_offsets
from nmc.infra.dead_letters import record_dead_letter
from nmc.infra.kafka_clients import admin_config, consumer_config, domain_topics
from nmc.status.model import Thresholds, assess
from nmc.status.probe import collect
from producers.outbox import OutboxWriter


@pytest.fixture
def group(stack: Settings) -> Iterator[str]:
    """A unique consumer group name; the group is deleted after the test."""
    name = f"status-test-{uuid.uuid4().hex[:8]}"
    yield name
    admin = AdminClient(admin_config(stack))
    for future in admin.delete_consumer_groups([name], request_timeout=30).values():
        with contextlib.suppress(Exception):  # never created (the test failed early)
            future.result()


def commit(settings: Settings, group: str, at_start: bool) -> None:
    """Give `group` committed offsets on the domain topics: at their end, or at their start."""
    positions = end_offsets(settings, domain_topics())
    if at_start:
        positions = [TopicPartition(tp.topic, tp.partition, 0) for tp in positions]
    consumer = Consumer(consumer_config(settings, group))
    try:
        consumer.commit(offsets=positions, asynchronous=False)
    finally:
        consumer.close()


def write_events(engine: Engine) -> int:
    events = [parse_event(e) for e in example_envelopes(uuid.uuid4(), uuid.uuid4())][:3]
    with Session(engine) as session, session.begin():
        OutboxWriter().append_all(session, events)
    return len(events)


def run_status(monkeypatch: pytest.MonkeyPatch, settings: Settings,
               *args: str) -> tuple[int, dict[str, Any]]:
    monkeypatch.setattr("nmc.cli.get_settings", lambda: settings)
    result = CliRunner().invoke(app, ["status", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.serial  # counts its group's lag on the shared domain topics: nothing else may write
def test_a_running_pipeline_is_healthy(
    test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    wait_until: Callable[..., None], monkeypatch: pytest.MonkeyPatch, group: str,
) -> None:
    commit(test_settings, group, at_start=False)
    relay_thread()
    written = write_events(engine)
    limits = Thresholds()

    def drained() -> bool:
        snap = collect(test_settings, limits, [group])
        return snap.outbox.pending == 0 and snap.lanes_held == snap.lanes_total

    wait_until(drained, "the relay to hold every lane and publish the outbox")
    snapshot = collect(test_settings, limits, [group])
    assert len(snapshot.relays) == 1 and snapshot.relays[0].lanes == 64
    assert snapshot.outbox.published_last_minute >= written
    # our group committed at the end before the events were published: it lags by them
    mine = [g for g in snapshot.groups if g.group == group]
    assert {g.topic for g in mine} == set(domain_topics())
    assert sum(g.lag for g in mine) == written
    assert all(g.expected for g in mine)
    commit(test_settings, group, at_start=False)   # caught up
    code, data = run_status(monkeypatch, test_settings, "--expect-group", group)
    assert data["problems"] == [] and data["healthy"] is True, data
    assert code == 0
    assert data["lanes"] == {"held": 64, "total": 64}


def test_parked_rows_lag_and_dead_letters_make_it_unhealthy(
    test_settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch, group: str,
) -> None:
    commit(test_settings, group, at_start=True)        # behind by everything on the topics
    write_events(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE outbox_events SET state = 'parked', last_error = 'x'"
                          " WHERE id = (SELECT min(id) FROM outbox_events)"))
    record_dead_letter(engine, {"group_id": group, "app": "test", "topic": "nmc.telephony",
                         "partition": 0, "offset": 0, "record_key": "k", "event_id": None,
                         "event_name": None, "tenant_id": None, "event": None,
                         "raw_value": b"x", "headers": {}, "error": "boom", "attempts": 1})
    code, data = run_status(monkeypatch, test_settings, "--expect-group", group,
                            "--max-lag", "0", "--max-unprocessed-age", "1e12")
    problems = "\n".join(data["problems"])
    assert code == 1, data
    assert "outbox: 1 parked row(s)" in problems
    assert "relays: none running" in problems
    assert f"consumer group {group}: " in problems and "records behind on nmc." in problems
    assert f"dead letters: 1 new for {group}" in problems
    lagging = [g for g in data["consumer_groups"] if g["group"] == group and g["lag"]]
    assert lagging and all(g["oldest_unprocessed_age_s"] is not None for g in lagging)
    assert assess(collect(test_settings, Thresholds(), []), Thresholds())  # still unhealthy
