"""The Debezium path (Kafka Connect + the contract SMT) against the same wire contract as the
relay: every catalog event, decoded by a plain consumer and compared field by field; and a
`kill -9` of the Connect worker mid-load that loses nothing and keeps per-key order."""

from __future__ import annotations

import os
import signal
import struct
import threading
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cdc_support import cdc_connector, connect_worker, ensure_worker  # noqa: F401
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings
from support.waits import scaled, wait_until
from test_relay_contract import _all_events

from nmc.contract.envelope import parse_event
from nmc.contract.keys import java_partition
from nmc.contract.payload import to_json_value
from nmc.contract.schemas import default_catalog
from nmc.infra.consume import DecodedRecord, end_offsets, read_records
from nmc.infra.kafka_clients import domain_topics
from nmc.infra.schema_registry import registry_client
from nmc.stack import connect, pidfile
from nmc.stack.layout import Layout
from producers.outbox import OutboxWriter

pytestmark = pytest.mark.xdist_group("connect")  # one Connect worker


def test_every_event_type_through_debezium_is_what_the_relay_writes(
    test_settings: Settings, engine: Engine, connect_worker: connect.ConnectSettings,  # noqa: F811
) -> None:
    envelopes = _all_events()
    assert len(envelopes) == len(default_catalog())
    ids = {e["event_id"] for e in envelopes}
    start = end_offsets(test_settings, domain_topics())

    with cdc_connector(test_settings, connect_worker) as connector:
        with Session(engine) as session, session.begin():
            assert OutboxWriter().append_all(session, [parse_event(e) for e in envelopes]) == 13
        records = read_records(
            test_settings, start, until=lambda rs: {r.headers["event_id"] for r in rs} >= ids,
            keep=lambda h: h.get("event_id") in ids, timeout_s=120,
        )
        lags = {lag.slot: lag for lag in connect.slot_lags(test_settings)}
        assert lags[connector.slot].active and lags[connector.slot].lag_bytes >= 0
    # Stopping the connector and dropping its slot releases the WAL it held.
    assert connector.slot not in {lag.slot for lag in connect.slot_lags(test_settings)}

    by_id = {r.headers["event_id"]: r for r in records}
    assert len(records) == len(ids), "each event exactly once in a run without faults"
    with registry_client(test_settings) as registry:
        registered = {
            s.subject: registry.get_latest_version(s.subject).schema_id for s in default_catalog()
        }
    for envelope in envelopes:
        record = by_id[envelope["event_id"]]
        domain = envelope["event_name"].split(".")[1]
        key = f"{envelope['tenant_id']}:{envelope['correlation_id']}"
        assert record.topic == f"nmc.{domain}"
        assert record.key == key
        assert record.partition == java_partition(key, test_settings.nmc_topic_partitions)
        assert to_json_value(record.value) == envelope
        expected_headers = {k: str(v) for k, v in envelope.items()
                            if k != "payload" and v is not None}
        assert record.headers == expected_headers  # no __debezium.* headers, no `id`
        occurred = parse_event(envelope).occurred_at
        assert record.timestamp_ms == int(occurred.timestamp() * 1000)
        magic, schema_id = struct.unpack(">bI", record.raw_value[:5])
        schema = default_catalog().get(envelope["event_name"], 1)
        assert schema is not None
        assert (magic, schema_id) == (0, registered[schema.subject])


def _events(keys: list[tuple[uuid.UUID, uuid.UUID]], per_key: int) -> list[dict[str, Any]]:
    """`per_key` MessageSent-like events per key, interleaved across keys, in write order."""
    from nmc.contract.examples import example_envelopes

    template = next(e for e in example_envelopes(uuid.uuid4(), uuid.uuid4())
                    if e["event_name"] == "nmc.conversation.MessageSent")
    base = datetime.now(UTC).replace(microsecond=0)
    out = []
    for i in range(per_key):
        for tenant, corr in keys:
            out.append(dict(template, event_id=str(uuid.uuid4()), tenant_id=str(tenant),
                            correlation_id=str(corr), causation_id=None,
                            occurred_at=(base + timedelta(milliseconds=i)).isoformat()
                            .replace("+00:00", "Z")))
    return out


@pytest.mark.fault
def test_kill_9_of_the_connect_worker_loses_nothing_and_keeps_key_order(
    stack: Settings, test_settings: Settings, engine: Engine,
    connect_worker: connect.ConnectSettings,  # noqa: F811
) -> None:
    keys = [(uuid.uuid4(), uuid.uuid4()) for _ in range(24)]
    events = _events(keys, per_key=125)  # 3,000 events
    written = [parse_event(e) for e in events]
    ids = {e["event_id"] for e in events}
    start = end_offsets(test_settings, domain_topics())
    layout = Layout.of(test_settings)
    done = threading.Event()
    half_written = threading.Event()
    release = threading.Event()

    def write() -> None:
        for i in range(0, len(written), 20):  # 150 transactions of 20 events
            if i == len(written) // 2:  # held here until the worker has been killed
                half_written.set()
                release.wait()
            with Session(engine) as session, session.begin():
                OutboxWriter().append_all(session, written[i:i + 20])
        done.set()

    with cdc_connector(test_settings, connect_worker) as connector:
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            # the kill lands at a state the test holds: half the events committed, Connect seen
            # streaming them, the other half still to be written while the worker is down
            assert half_written.wait(scaled(120)), "the writer did not reach its halfway point"
            read_records(test_settings, start, until=lambda rs: len(rs) > 0,
                         keep=lambda h: h.get("event_id") in ids, timeout_s=scaled(120))
            record = connect.running(layout)
            assert record is not None, "no Connect worker to kill"
            os.kill(record.pid, signal.SIGKILL)
            wait_until(lambda: not pidfile.is_alive(record), "the killed worker to exit", 30)
            assert not done.is_set()
        finally:
            release.set()
        # Same offsets file: resumes from the stored WAL position (the platform's own connector,
        # when `nmc connect up` had started one, comes back on the stack's database).
        ensure_worker(stack)
        connect.wait_slot_released(test_settings, connector.slot)
        connect.put_connector(connect_worker, connector.name, connector.config)
        connect.ensure_running(connect_worker, connector.name)
        writer.join(timeout=scaled(120))
        assert done.is_set(), "the writer did not finish the second half"
        seen: set[str] = set()
        progress = [0]

        def all_seen(rs: list[DecodedRecord]) -> bool:
            seen.update(r.headers["event_id"] for r in rs[progress[0]:])
            progress[0] = len(rs)
            return seen >= ids

        records = read_records(test_settings, start, until=all_seen,
                               keep=lambda h: h.get("event_id") in ids, timeout_s=scaled(240))

    assert {r.headers["event_id"] for r in records} == ids, "nothing lost"
    order: dict[str, list[str]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert r.partition == java_partition(r.key, test_settings.nmc_topic_partitions)
        if r.headers["event_id"] not in order[r.key]:  # at least once: replays are duplicates
            order[r.key].append(r.headers["event_id"])
    expected: dict[str, list[str]] = defaultdict(list)
    for e in events:
        expected[f"{e['tenant_id']}:{e['correlation_id']}"].append(e["event_id"])
    assert order == expected, "per key, first deliveries follow commit order"


def test_cdc_mode_retention_deletes_by_age_only_and_the_stream_is_unaffected(
    test_settings: Settings, engine: Engine, connect_worker: connect.ConnectSettings,  # noqa: F811
) -> None:
    from sqlalchemy import text

    old = _events([(uuid.uuid4(), uuid.uuid4())], per_key=5)
    new = _events([(uuid.uuid4(), uuid.uuid4())], per_key=5)
    ids = {e["event_id"] for e in old + new}
    start = end_offsets(test_settings, domain_topics())
    with cdc_connector(test_settings, connect_worker):
        with Session(engine) as session, session.begin():
            OutboxWriter().append_all(session, [parse_event(e) for e in old])
        with engine.begin() as conn:  # age them: pending or not, CDC never marks rows
            conn.execute(text("UPDATE outbox_events SET created_at = now() - interval '2 hours'"))
        with Session(engine) as session, session.begin():
            OutboxWriter().append_all(session, [parse_event(e) for e in new])
        assert connect.prune_by_age(test_settings.database, 3600, batch=2) == 5
        records = read_records(test_settings, start,
                               until=lambda rs: {r.headers["event_id"] for r in rs} >= ids,
                               keep=lambda h: h.get("event_id") in ids, timeout_s=120)
    with engine.connect() as conn:
        left = {str(r[0]) for r in conn.execute(text("SELECT event_id FROM outbox_events"))}
    assert left == {e["event_id"] for e in new}
    # Updates and deletes are not events: exactly one record per insert.
    assert sorted(r.headers["event_id"] for r in records) == sorted(ids)
