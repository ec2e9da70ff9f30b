"""The value the outbox writer stores (`avro_value`): published as is when its schema id is the
relay's, encoded by the relay when absent or framed with another id, cleared by a payload
repair."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from relay_support import message
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings

from nmc.contract.schemas import default_catalog
from nmc.contract.wire import SchemaEncoder, confluent_frame, frame_schema_id
from nmc.infra.consume import end_offsets, read_records
from nmc.infra.kafka_clients import domain_topics
from nmc.infra.schema_registry import registry_client
from producers.outbox import OutboxWriter
from producers.outbox.values import StoredValues, avro_fields, registry_lookup


def _stored(engine: Engine) -> dict[str, bytes | None]:
    with engine.connect() as conn:
        return {eid: None if v is None else bytes(v) for eid, v in conn.execute(text(
            "SELECT event_id::text, avro_value FROM outbox_events"))}


def _unpublished(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM outbox_events WHERE state <> 'published'")).scalar_one())


def test_stored_values_are_published_as_stored_and_others_are_encoded(
    test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    wait_until: Callable[..., None],
) -> None:
    schema = default_catalog().get("nmc.conversation.MessageSent", 1)
    assert schema is not None
    with registry_client(test_settings) as registry:
        schema_id = registry.get_latest_version(schema.subject).schema_id
    values = StoredValues(registry_lookup(lambda: registry_client(test_settings)))
    writer = OutboxWriter(values=values)
    tenant = uuid.uuid4()
    before, after, stale, swapped, donor = (message(tenant, uuid.uuid4()) for _ in range(5))
    with Session(engine) as session, session.begin():
        writer.append(session, before)  # the id is not known yet: NULL, no wait
    values.wait()
    with Session(engine) as session, session.begin():
        writer.append_all(session, [after, stale, swapped, donor])
    stored = _stored(engine)
    assert stored[str(before.event_id)] is None
    for event in (after, stale, swapped, donor):
        value = stored[str(event.event_id)]
        assert value is not None and frame_schema_id(value) == schema_id
    assert stored[str(after.event_id)] == SchemaEncoder(schema, schema_id).value(
        avro_fields(after))

    # `swapped` carries `donor`'s bytes under our id: if it reaches Kafka with them, the relay
    # published the stored value without encoding. `stale` is framed with an id that is not
    # the subject's: the relay must encode it (from a payload it did not fetch at first).
    donor_value = stored[str(donor.event_id)]
    assert donor_value is not None
    stale_value = confluent_frame(schema_id + 1000, donor_value[5:])
    with engine.begin() as conn:
        conn.execute(text("UPDATE outbox_events SET avro_value = :v WHERE event_id = :e"),
                     {"v": donor_value, "e": swapped.event_id})
        conn.execute(text("UPDATE outbox_events SET avro_value = :v WHERE event_id = :e"),
                     {"v": stale_value, "e": stale.event_id})

    start = end_offsets(test_settings, domain_topics())
    relay_thread()
    wait_until(lambda: _unpublished(engine) == 0, "the relay to publish every row")
    ids = {str(e.event_id) for e in (before, after, stale, swapped, donor)}
    records = read_records(
        test_settings, start, until=lambda rs: {r.headers["event_id"] for r in rs} >= ids,
        keep=lambda h: h.get("event_id") in ids,
    )
    raw = {r.headers["event_id"]: r.raw_value for r in records}
    encoder = SchemaEncoder(schema, schema_id)
    assert raw[str(after.event_id)] == stored[str(after.event_id)]
    assert raw[str(swapped.event_id)] == donor_value  # exactly the stored bytes
    assert raw[str(before.event_id)] == encoder.value(avro_fields(before))  # relay-encoded
    assert raw[str(stale.event_id)] == encoder.value(avro_fields(stale))  # re-encoded, our id


def test_a_payload_update_clears_the_stored_value(test_settings: Settings,
                                                   engine: Engine) -> None:
    values = StoredValues(lambda _subject, _schema: 1)
    writer = OutboxWriter(values=values)
    first, second = message(uuid.uuid4(), uuid.uuid4()), message(uuid.uuid4(), uuid.uuid4())
    with Session(engine) as session, session.begin():
        writer.append(session, first)
    values.wait()
    with Session(engine) as session, session.begin():
        writer.append_all(session, [second])
    assert _stored(engine)[str(second.event_id)] is not None
    with engine.begin() as conn:  # what the relay's settle touches: the value stays
        conn.execute(text("UPDATE outbox_events SET attempts = attempts + 1, "
                          "last_error = 'x' WHERE event_id = :e"), {"e": second.event_id})
    assert _stored(engine)[str(second.event_id)] is not None
    with engine.begin() as conn:  # an operator's repair of the payload: the bytes go
        conn.execute(text("UPDATE outbox_events SET payload = payload || '{\"status\": \"sent\"}'"
                          " WHERE event_id = :e"), {"e": second.event_id})
    assert _stored(engine)[str(second.event_id)] is None
