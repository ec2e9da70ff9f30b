"""Issue #22 item 2 on the real stack: a major change published side by side, then alone.

A scratch CallDetected major 2 (`from_phone` renamed `caller_phone`, an optional
`caller_name`; tests/support/evolution.py) sits beside v1 in a temporary schema directory, on
isolated copies of the domain topics (its subject is the copy's, never the real one). Producers
build v2 events; with the window open (`dual_publish`) one writer call stages both majors. The
relay publishes both, one event_id, one key, v1 right before v2; stream workers read both and
build exactly the read models of the v1-only history; with the window closed only v2 is written.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from confluent_kafka.schema_registry import Schema
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.evolution import EVENT, major_copy
from support.settings import PlatformSettings as Settings
from support.streams import (
    IsolatedTopics,
    dump,
    fresh_database,
    history,
    project_in_order,
    start_worker,
    stop_worker,
    wait_caught_up,
)

from nmc.contract.envelope import Envelope
from nmc.contract.schemas import SchemaCatalog, subject_for
from nmc.infra.consume import DecodedRecord, end_offsets, read_records
from nmc.infra.db import make_engine
from nmc.infra.schema_registry import registry_client
from producers.outbox import OutboxWriter
from producers.outbox.values import StoredValues, registry_lookup
from producers.outbox.writer import with_majors
from producers.relay.relay import OutboxRelay

APPS = ("conversation", "reporting")
WINDOW = {EVENT: [1, 2]}


def register_major(settings: Settings, copies: IsolatedTopics, catalog: SchemaCatalog,
                   major: int) -> int:
    schema = catalog.get(EVENT, major)
    assert schema is not None
    subject = subject_for(copies.topics["telephony"], schema.full_name)
    with registry_client(settings) as client:
        return client.register_schema(subject, Schema(schema.schema_str, "AVRO"))


def major_writer(settings: Settings, catalog: SchemaCatalog, suffix: str,
                 window: dict[str, list[int]]) -> OutboxWriter:
    values = StoredValues(registry_lookup(lambda: registry_client(settings)), catalog=catalog)
    values.preload(suffix)
    values.wait()
    return OutboxWriter(values=values, topic_suffix=suffix, dual_publish=window, retired={},
                        catalog=catalog)


def as_major(event: Envelope, catalog: SchemaCatalog, major: int) -> Envelope:
    """What a producer updated to `major` builds for the same fact."""
    if event.event_name != EVENT:
        return event
    copies, errors = with_majors([event], catalog, {EVENT: [1, major]}, {})
    assert not errors
    return next(c for c in copies if c.major == major)


def outbox(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [(e, n, v) for e, n, v in conn.execute(text(
            "SELECT event_id::text, event_name, schema_version FROM outbox_events "
            "ORDER BY id"))]


def read_telephony(settings: Settings, copies: IsolatedTopics,
                   ids: set[str]) -> list[DecodedRecord]:
    start = end_offsets(settings, [copies.topics["telephony"]])
    for tp in start:
        tp.offset = 0  # a fresh copy: everything on it is this test's
    want = {(i, m) for i in ids for m in ("1", "2")}
    return read_records(
        settings, start,
        until=lambda rs: {(r.headers["event_id"], r.headers["schema_version"][0])
                          for r in rs} >= want,
        keep=lambda h: h.get("event_id") in ids)


def test_a_window_publishes_both_majors_and_the_stream_apps_count_each_fact_once(
    stack: Settings, test_settings: Settings, database_url: str, engine: Engine,
    copies: IsolatedTopics, tmp_path: Path, relays: Callable[..., OutboxRelay],
    wait_until: Callable[..., None],
) -> None:
    v2 = major_copy(tmp_path / "v2")
    register_major(test_settings, copies, v2, 2)
    writer = major_writer(test_settings, v2, copies.suffix, WINDOW)
    tenants = [str(uuid.uuid4()) for _ in range(2)]
    events = history(22, tenants, 3)  # the v1 history: the reference's input
    for event in events:  # one transaction each: commit order = history order
        with Session(engine) as session, session.begin():
            assert writer.append(session, as_major(event, v2, 2))
    calls = {str(e.event_id) for e in events if e.event_name == EVENT}
    assert calls
    rows = outbox(engine)
    assert sorted(v for e, _, v in rows if e in calls) == sorted(["1.0.0", "2.0.0"] * len(calls))
    assert len(rows) == len(events) + len(calls)

    prefix = f"test-major-{uuid.uuid4().hex[:8]}"
    workers = [start_worker(app, database_url=database_url, topic_suffix=copies.suffix,
                            app_id_prefix=prefix, nmc_home=tmp_path, worker_id=f"{app}-w1",
                            log_path=tmp_path / f"{app}.log") for app in APPS]
    try:
        relays(v2)  # a relay with the v2 file: each row with its own major's schema
        wait_until(lambda: all(v == "published" for v in _states(engine)),
                   "the relay to publish every row")
        records = read_telephony(test_settings, copies, calls)
        copies_of: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            copies_of[r.headers["event_id"]].append(
                (r.offset, r.headers["schema_version"], r.value["event_name"]))
            assert r.key == next(e.key for e in events if str(e.event_id) == r.headers["event_id"])
        for event_id, seen in copies_of.items():
            assert [v for _, v, _ in seen] == ["1.0.0", "2.0.0"], event_id  # v1 then v2
            assert len({r.partition for r in records if r.headers["event_id"] == event_id}) == 1
        v2_values = [r.value["payload"] for r in records if r.headers["schema_version"] == "2.0.0"]
        assert all("caller_phone" in p and "from_phone" not in p for p in v2_values)

        with fresh_database(stack) as ref_url:
            reference = make_engine(ref_url)
            for app in APPS:
                project_in_order(reference, app, events)
                wait_caught_up(stack, f"{prefix}-{app}",
                               copies.of_app(app), timeout=180)
                expected = dump(reference, app, tenants)
                assert any(expected.values())
                assert dump(engine, app, tenants) == expected, app
            reference.dispose()
    finally:
        for w in workers:
            stop_worker(w)

    closed = major_writer(test_settings, v2, copies.suffix, {})
    first_call = next(e for e in events if e.event_name == EVENT)
    call = as_major(first_call.model_copy(update={"event_id": uuid.uuid4()}), v2, 2)
    with Session(engine) as session, session.begin():
        assert closed.append(session, call)
    assert [v for e, _, v in outbox(engine) if e == str(call.event_id)] == ["2.0.0"]


def _states(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT state FROM outbox_events")).scalars())
