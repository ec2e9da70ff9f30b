"""Issue #22 item 0 on the real stack: a relay never changes what the writer wrote.

Writers of CallDetected 1.0.0 (the real files) and 1.1.0 (a scratch copy with an optional
`caller_name`) share keys on isolated copies of the domain topics, whose subjects hold the real
schemas plus the scratch versions (the real catalog and subjects are never touched). Relays whose
files are at either version publish every row with its own version's schema id, stored values
byte for byte; a version nobody registered is held back, named, counted, and published once it
is registered.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.evolution import EVENT, minor_copy
from support.settings import PlatformSettings as Settings
from support.streams import IsolatedTopics

from nmc.contract.envelope import Envelope, InvalidEvent, new_event
from nmc.contract.schemas import SchemaCatalog, default_catalog, subject_for
from nmc.contract.wire import frame_schema_id
from nmc.infra.consume import DecodedRecord, end_offsets, read_records
from nmc.infra.schema_registry import registry_client
from producers.outbox import OutboxWriter
from producers.outbox.values import StoredValues, registry_lookup
from producers.relay.relay import OutboxRelay

FULL_NAME = "nmc.telephony.v1.CallDetected"


def _subject(copies: IsolatedTopics) -> str:
    return subject_for(copies.topics["telephony"], FULL_NAME)


def _register(settings: Settings, subject: str, catalog: SchemaCatalog) -> int:
    schema = catalog.get(EVENT, 1)
    assert schema is not None
    with registry_client(settings) as client:
        return client.register_schema(subject, Schema(schema.schema_str, "AVRO"))


def _writer(settings: Settings, catalog: SchemaCatalog | None, suffix: str) -> OutboxWriter:
    """A writer storing values with `catalog`'s schema ids (None: rows without a value)."""
    if catalog is None:
        return OutboxWriter(values=None, topic_suffix=suffix)
    values = StoredValues(registry_lookup(lambda: registry_client(settings)), catalog=catalog)
    values.preload(suffix)
    values.wait()
    return OutboxWriter(values=values, topic_suffix=suffix)


def _call(catalog: SchemaCatalog, tenant: uuid.UUID, key: uuid.UUID,
          caller_name: str | None = None) -> Envelope:
    payload = {"call_id": str(uuid.uuid4()), "from_phone": "+13105551212",
               "to_phone": "+13105550000", "reason": "no-answer", "provider_ref": "CA1"}
    if caller_name is not None:
        payload["caller_name"] = caller_name
    return new_event(EVENT, tenant_id=tenant, correlation_id=key, payload=payload,
                     catalog=catalog)


def _rows(engine: Engine) -> list[tuple[str, str, str, bytes | None]]:
    """(event_id, state, schema_version, avro_value) in outbox id (= per-key commit) order."""
    with engine.connect() as conn:
        return [(e, s, v, None if b is None else bytes(b)) for e, s, v, b in conn.execute(text(
            "SELECT event_id::text, state, schema_version, avro_value FROM outbox_events "
            "ORDER BY id"))]


def _read(settings: Settings, copies: IsolatedTopics, ids: set[str]) -> list[DecodedRecord]:
    start = [tp for tp in end_offsets(settings, [copies.topics["telephony"]])]
    for tp in start:
        tp.offset = 0  # a fresh copy: everything on it is this test's
    return read_records(settings, start,
                        until=lambda rs: {r.headers["event_id"] for r in rs} >= ids,
                        keep=lambda h: h.get("event_id") in ids)


@pytest.mark.parametrize("relay_files", ["1.0.0", "1.1.0"])
def test_each_row_goes_out_with_its_own_versions_schema_id_and_stored_bytes(
    test_settings: Settings, engine: Engine, copies: IsolatedTopics, tmp_path: Path,
    relays: Callable[..., OutboxRelay], wait_until: Callable[..., None], relay_files: str,
) -> None:
    v10, v11 = default_catalog(), minor_copy(tmp_path / "v11")
    subject = _subject(copies)
    id11 = _register(test_settings, subject, v11)
    id10 = _register(test_settings, subject, v10)  # already there: its id
    assert id10 != id11
    suffix = copies.suffix
    writers = {"1.0.0": _writer(test_settings, v10, suffix),
               "1.1.0": _writer(test_settings, v11, suffix)}
    without_value = _writer(test_settings, None, suffix)  # the relay must encode these
    tenant, keys = uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
    names: dict[str, str] = {}
    for n in range(12):  # interleaved on the same keys, one transaction at a time
        version = ("1.0.0", "1.1.0")[n % 2]
        catalog = v10 if version == "1.0.0" else v11
        with Session(engine) as session, session.begin():
            for k in keys:
                name = f"caller {n}" if version == "1.1.0" else None
                event = _call(catalog, tenant, k, name)
                writer = without_value if n % 4 == 3 else writers[version]
                writer.append(session, event)
                if name is not None:
                    names[str(event.event_id)] = name
    stored = _rows(engine)
    assert sum(1 for *_, b in stored if b is None) == 3 * 3  # n = 3, 7, 11: 1.1.0 rows

    relays(v10 if relay_files == "1.0.0" else v11)
    wait_until(lambda: all(s == "published" for _, s, _, _ in _rows(engine)),
               "the relay to publish every row")
    records = _read(test_settings, copies, {e for e, *_ in stored})
    by_event = {r.headers["event_id"]: r for r in records}
    for event_id, _, version, value in stored:
        record = by_event[event_id]
        assert record.headers["schema_version"] == version
        assert frame_schema_id(record.raw_value) == (id10 if version == "1.0.0" else id11)
        if value is not None:
            assert record.raw_value == value, "a stored value must reach Kafka as stored"
        if version == "1.1.0":  # decoded with the writer schema the record's id names
            assert record.value["payload"]["caller_name"] == names[event_id]
        else:
            assert "caller_name" not in record.value["payload"]
    # per key, Kafka holds the rows in commit order (one key, one partition)
    kafka_order: dict[str, list[str]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.offset):
        kafka_order[record.key].append(record.headers["event_id"])
    commit_order: dict[str, list[str]] = defaultdict(list)
    for event_id, *_ in stored:
        commit_order[by_event[event_id].key].append(event_id)
    assert kafka_order == commit_order


def test_an_unregistered_version_is_held_back_then_published_once_registered(
    test_settings: Settings, engine: Engine, copies: IsolatedTopics, tmp_path: Path,
    relays: Callable[..., OutboxRelay], wait_until: Callable[..., None],
) -> None:
    v10, v12 = default_catalog(), minor_copy(tmp_path / "v12", "1.2.0",
                                               ("caller_name", "caller_city"))
    subject = _subject(copies)
    suffix = copies.suffix
    tenant, held_key, free_key = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    newer = _call(v12, tenant, held_key, "Ada")
    behind, free = _call(v10, tenant, held_key), _call(v10, tenant, free_key)
    with Session(engine) as session, session.begin():
        # a writer that could not ask the registry stores no value: the relay must decide
        _writer(test_settings, None, suffix).append(session, newer)
        _writer(test_settings, v10, suffix).append_all(session, [behind, free])

    relay = relays(v10, nmc_relay_version_retry_s=0.5, nmc_relay_cleanup_interval_s=0.2)

    def state(event: Envelope) -> tuple[str, str | None]:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT state, last_error FROM outbox_events "
                                    "WHERE event_id = :e"), {"e": event.event_id}).one()
        return row[0], row[1]

    def unknown_count() -> float:
        value = relay.metrics.registry.get_sample_value(
            "nmc_relay_unknown_version_total",
            {"event_name": EVENT, "schema_version": "1.2.0"})
        return value or 0.0

    wait_until(lambda: state(free)[0] == "published" and unknown_count() >= 2,
               "the free key to flow and the 1.2.0 row to be held twice")
    held_state, reason = state(newer)
    assert held_state in ("parked", "pending")  # between a requeue and the next attempt
    assert reason is not None and all(p in reason for p in (EVENT, "1.2.0", subject))
    assert state(behind)[0] == "pending", "a row behind a held one must wait"

    id12 = _register(test_settings, subject, v12)
    wait_until(lambda: state(newer)[0] == "published" and state(behind)[0] == "published",
               "the held row, then the one behind it, to be published")
    records = _read(test_settings, copies, {str(newer.event_id), str(behind.event_id)})
    order = [r.headers["event_id"] for r in sorted(records, key=lambda r: r.offset)
             if r.key == newer.key]
    assert order[:2] == [str(newer.event_id), str(behind.event_id)]
    first = next(r for r in records if r.headers["event_id"] == str(newer.event_id))
    assert frame_schema_id(first.raw_value) == id12
    assert first.value["payload"]["caller_name"] == "Ada"
    assert first.value["payload"]["caller_city"] is None


def test_a_writer_refuses_a_version_that_is_not_registered(
    test_settings: Settings, engine: Engine, copies: IsolatedTopics, tmp_path: Path,
) -> None:
    v12 = minor_copy(tmp_path / "v12", "1.2.0", ("caller_name", "caller_city"))
    writer = _writer(test_settings, v12, copies.suffix)  # asked the registry, got "no"
    event = _call(v12, uuid.uuid4(), uuid.uuid4(), "Ada")
    with Session(engine) as session, session.begin(), pytest.raises(InvalidEvent) as caught:
        writer.append(session, event)
    message = str(caught.value)
    assert _subject(copies) in message and "1.2.0" in message
    assert _rows(engine) == []
