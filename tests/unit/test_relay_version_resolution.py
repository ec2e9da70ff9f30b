"""The relay publishes each row with the schema of its own `schema_version` (no broker, no
registry: an in-memory `RegisteredVersions`)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from confluent_kafka import Producer
from fastavro import parse_schema, schemaless_reader
from support.evolution import EVENT, minor_copy

from nmc.contract.envelope import new_event
from nmc.contract.schemas import SchemaCatalog, default_catalog
from nmc.contract.wire import SchemaEncoder, confluent_frame, frame_schema_id
from producers.outbox.values import avro_fields
from producers.relay.outcome import Delivery, RowResult
from producers.relay.publisher import (
    HeldPolicy,
    HeldRowError,
    KafkaPublisher,
    PermanentRowError,
    TransientPublishError,
)
from producers.relay.store import OutboxRow
from producers.relay.versions import (
    RegistryUnavailable,
    UnknownVersion,
    WriterSchemas,
    matching,
)

TOPIC = "nmc.telephony.tunit"
SUBJECT = f"{TOPIC}-nmc.telephony.v1.CallDetected"


class MemoryVersions:
    """A registry in memory: subject -> [(id, schema text)], version n at index n - 1."""

    def __init__(self) -> None:
        self.subjects: dict[str, list[tuple[int, str]]] = {}
        self.down = False
        self.calls = 0
        self._next_id = 100

    def register(self, subject: str, schema_str: str) -> int:
        self._next_id += 1
        self.subjects.setdefault(subject, []).append((self._next_id, schema_str))
        return self._next_id

    def _ask(self) -> None:
        self.calls += 1
        if self.down:
            raise RegistryUnavailable("registry down")

    def lookup_id(self, subject: str, schema_str: str) -> int | None:
        self._ask()
        return next((i for i, s in self.subjects.get(subject, []) if s == schema_str), None)

    def versions(self, subject: str) -> list[int]:
        self._ask()
        return list(range(1, len(self.subjects.get(subject, [])) + 1))

    def schema(self, subject: str, version: int) -> tuple[int, str]:
        self._ask()
        return self.subjects[subject][version - 1]


@pytest.fixture
def v11(tmp_path: Path) -> SchemaCatalog:
    return minor_copy(tmp_path / "v11")


def _schema_str(catalog: SchemaCatalog) -> str:
    schema = catalog.get(EVENT, 1)
    assert schema is not None
    return schema.schema_str


def _row(catalog: SchemaCatalog, caller_name: str | None = None, value: bytes | None = None,
         attempts: int = 0, **payload: Any) -> OutboxRow:
    base = {"call_id": str(uuid.uuid4()), "from_phone": "+13105551212",
            "to_phone": "+13105550000", "reason": "busy", "provider_ref": "CA1"}
    if caller_name is not None:
        base["caller_name"] = caller_name
    event = new_event(EVENT, tenant_id=uuid.uuid4(), correlation_id=uuid.uuid4(),
                      payload={**base, **payload}, catalog=catalog)
    fields = avro_fields(event)
    return OutboxRow(
        id=1, event_id=fields.event_id, event_name=EVENT, schema_version=event.schema_version,
        tenant_id=fields.tenant_id, correlation_id=fields.correlation_id, causation_id=None,
        occurred_at="2025-09-01T18:22:03Z", occurred_ms=fields.occurred_ms,
        payload=dict(event.payload), topic=TOPIC, record_key=event.key, attempts=attempts,
        created_epoch_s=0.0, lane=0, avro_value=value,
    )


def _decode(writer_schema_str: str, value: bytes) -> dict[str, Any]:
    parsed = parse_schema(json.loads(writer_schema_str))
    record = schemaless_reader(io.BytesIO(value[5:]), parsed, None)
    assert isinstance(record, dict)
    return record


# --- the decision -----------------------------------------------------------------------------


def test_matching_picks_the_registrations_of_the_wanted_version_newest_first() -> None:
    registered = [(1, 10, {"nmc.version": "1.0.0"}), (2, 11, {"nmc.version": "1.1.0"}),
                  (3, 12, {"nmc.version": "1.1.0"}), (4, 13, None)]
    assert [i for i, _ in matching("1.1.0", registered)] == [12, 11]
    assert matching("1.2.0", registered) == []


def test_the_relays_own_file_when_it_has_the_rows_version(v11: SchemaCatalog) -> None:
    registry = MemoryVersions()
    id10 = registry.register(SUBJECT, _schema_str(default_catalog()))
    registry.register(SUBJECT, _schema_str(v11))
    resolved = WriterSchemas(default_catalog(), registry).resolve(TOPIC, EVENT, "1.0.0")
    assert resolved.ids == {id10} and not resolved.from_registry
    assert resolved.subject == SUBJECT  # TopicRecordNameStrategy on the row's own topic


def test_a_newer_version_than_the_files_comes_from_the_registry(v11: SchemaCatalog) -> None:
    registry = MemoryVersions()
    registry.register(SUBJECT, _schema_str(default_catalog()))
    id11 = registry.register(SUBJECT, _schema_str(v11))
    schemas = WriterSchemas(default_catalog(), registry)  # an old relay: files at 1.0.0
    resolved = schemas.resolve(TOPIC, EVENT, "1.1.0")
    assert resolved.ids == {id11} and resolved.from_registry
    value = resolved.encoder.value(_row(v11, caller_name="Ada"))
    assert frame_schema_id(value) == id11
    assert _decode(_schema_str(v11), value)["payload"]["caller_name"] == "Ada"
    calls = registry.calls
    assert schemas.resolve(TOPIC, EVENT, "1.1.0") is resolved and registry.calls == calls


def test_an_older_version_than_the_files_keeps_its_own_schema(v11: SchemaCatalog) -> None:
    registry = MemoryVersions()
    id10 = registry.register(SUBJECT, _schema_str(default_catalog()))
    registry.register(SUBJECT, _schema_str(v11))
    resolved = WriterSchemas(v11, registry).resolve(TOPIC, EVENT, "1.0.0")  # a new relay
    assert resolved.ids == {id10} and resolved.encoder.schema.version == "1.0.0"


def test_every_registration_of_the_version_counts_as_its_own(v11: SchemaCatalog) -> None:
    registry = MemoryVersions()
    first = registry.register(SUBJECT, _schema_str(v11))
    second = registry.register(SUBJECT, _schema_str(v11).replace("Added in", "Added, in"))
    resolved = WriterSchemas(default_catalog(), registry).resolve(TOPIC, EVENT, "1.1.0")
    assert resolved.ids == {first, second}
    assert frame_schema_id(resolved.encoder.frame_header) == second  # encodes with the newest


def test_an_unknown_version_is_refused_then_asked_again(tmp_path: Path,
                                                        v11: SchemaCatalog) -> None:
    registry = MemoryVersions()
    registry.register(SUBJECT, _schema_str(default_catalog()))
    now = [0.0]
    schemas = WriterSchemas(default_catalog(), registry, retry_s=5.0, clock=lambda: now[0])
    with pytest.raises(UnknownVersion) as caught:
        schemas.resolve(TOPIC, EVENT, "1.1.0")
    assert all(part in str(caught.value) for part in (EVENT, "1.1.0", SUBJECT))
    registry.register(SUBJECT, _schema_str(v11))
    calls = registry.calls
    with pytest.raises(UnknownVersion):  # the answer is kept a while: not asked per row
        schemas.resolve(TOPIC, EVENT, "1.1.0")
    assert registry.calls == calls
    now[0] = 5.0
    assert schemas.resolve(TOPIC, EVENT, "1.1.0").from_registry


def test_an_unreachable_registry_is_transient_and_not_remembered() -> None:
    registry = MemoryVersions()
    registry.register(SUBJECT, _schema_str(default_catalog()))
    registry.down = True
    schemas = WriterSchemas(default_catalog(), registry)
    with pytest.raises(RegistryUnavailable):
        schemas.resolve(TOPIC, EVENT, "1.0.0")
    registry.down = False
    assert schemas.resolve(TOPIC, EVENT, "1.0.0").ids


def test_a_version_that_is_not_semver_is_a_defect_of_the_row() -> None:
    with pytest.raises(ValueError, match="semantic"):
        WriterSchemas(default_catalog(), MemoryVersions()).resolve(TOPIC, EVENT, "1.1")


# --- what the publisher does with it ----------------------------------------------------------


def _publisher(registry: MemoryVersions, catalog: SchemaCatalog,
               held: HeldPolicy | None = None) -> KafkaPublisher:
    # encode and _send's decisions never touch the producer before a row is encoded
    return KafkaPublisher(cast(Producer, object()), WriterSchemas(catalog, registry), 1.0,
                          held=held)


def test_a_stored_value_of_the_rows_version_is_sent_byte_for_byte(v11: SchemaCatalog) -> None:
    registry = MemoryVersions()
    id10 = registry.register(SUBJECT, _schema_str(default_catalog()))
    id11 = registry.register(SUBJECT, _schema_str(v11))
    for relay_files in (default_catalog(), v11):  # an old and a new relay
        publisher = _publisher(registry, relay_files)
        for catalog, schema_id in ((default_catalog(), id10), (v11, id11)):
            stored = confluent_frame(schema_id, b"\x02whatever the writer wrote")
            value, _ = publisher.encode(_row(catalog, value=stored))
            assert value is stored
        assert publisher.encoded == 0


def test_a_value_framed_with_another_versions_id_is_encoded_with_the_rows_own(
    v11: SchemaCatalog,
) -> None:
    registry = MemoryVersions()
    id10 = registry.register(SUBJECT, _schema_str(default_catalog()))
    id11 = registry.register(SUBJECT, _schema_str(v11))
    publisher = _publisher(registry, default_catalog())  # files at 1.0.0
    row = _row(v11, caller_name="Ada", value=confluent_frame(id10, b"\x02stale"))
    value, _ = publisher.encode(row)
    assert frame_schema_id(value) == id11 and publisher.encoded == 1
    assert _decode(_schema_str(v11), value)["payload"]["caller_name"] == "Ada"


def test_no_path_drops_a_field(v11: SchemaCatalog) -> None:
    registry = MemoryVersions()
    registry.register(SUBJECT, _schema_str(default_catalog()))
    row = _row(v11, caller_name="Ada")
    row.schema_version = "1.0.0"  # a 1.1.0 payload labelled 1.0.0: encoding would lose a field
    with pytest.raises(PermanentRowError, match="caller_name"):
        _publisher(registry, default_catalog()).encode(row)
    encoder = SchemaEncoder(default_catalog().get(EVENT, 1), 7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"payload\.caller_name"):
        encoder.value(row)


def test_a_row_of_an_unknown_version_is_held_and_blocks_its_key(v11: SchemaCatalog) -> None:
    registry = MemoryVersions()  # nothing registered under this subject
    publisher = _publisher(registry, default_catalog(), HeldPolicy(10.0, 3))
    row = _row(v11, caller_name="Ada")
    with pytest.raises(HeldRowError, match=r"1\.1\.0"):
        publisher.encode(row)
    behind = _row(default_catalog())
    behind.id, behind.record_key = 2, row.record_key
    results: dict[int, RowResult] = {}
    publisher._send([row, behind], results, 0)
    assert results[1].delivery is Delivery.HELD and results[1].retry_after_s == 10.0
    assert results[1].error is not None and SUBJECT in results[1].error
    assert results[2].delivery is Delivery.NOT_SENT
    row.attempts = 2  # the last attempt: parked for an operator
    results.clear()
    publisher._send([row], results, 0)
    assert results[1].delivery is Delivery.PERMANENT and "gave up after 3" in str(results[1].error)


def test_an_unreachable_registry_stops_the_batch() -> None:
    registry = MemoryVersions()
    registry.down = True
    with pytest.raises(TransientPublishError):
        _publisher(registry, default_catalog()).encode(_row(default_catalog()))
