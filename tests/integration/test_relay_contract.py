"""Outbox -> relay -> Kafka, decoded by a plain consumer: the wire contract of DESIGN.md §2."""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings

from nmc.contract.envelope import parse_event
from nmc.contract.examples import example_envelopes
from nmc.contract.keys import java_partition
from nmc.contract.payload import to_json_value
from nmc.contract.schemas import default_catalog
from nmc.infra.consume import end_offsets, read_records
from nmc.infra.kafka_clients import domain_topics
from nmc.infra.schema_registry import registry_client
from producers.outbox import OutboxWriter

EXAMPLES = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "catalog_examples.json").read_text()
)


def _all_events() -> list[dict[str, Any]]:
    """Both §10 examples as printed plus one valid event of every other type."""
    printed = {e["event_name"] for e in EXAMPLES}
    others = [
        e for e in example_envelopes(uuid.uuid4(), uuid.uuid4()) if e["event_name"] not in printed
    ]
    return EXAMPLES + others


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM outbox_events WHERE state <> 'published'")).scalar_one())


def test_every_event_type_reaches_kafka_as_written(
    test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    wait_until: Callable[..., None],
) -> None:
    envelopes = _all_events()
    assert len(envelopes) == len(default_catalog())
    ids = {e["event_id"] for e in envelopes}
    start = end_offsets(test_settings, domain_topics())

    with Session(engine) as session, session.begin():
        assert OutboxWriter().append_all(session, [parse_event(e) for e in envelopes]) == len(ids)
    relay_thread()
    wait_until(lambda: _pending(engine) == 0, "the relay to publish every row")

    records = read_records(
        test_settings, start, until=lambda rs: {r.headers["event_id"] for r in rs} >= ids,
        keep=lambda h: h.get("event_id") in ids,
    )
    by_id = {r.headers["event_id"]: r for r in records}
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
        # Field by field: the decoded Avro record is the envelope we wrote.
        assert to_json_value(record.value) == envelope
        # Headers (causation_id only when not null) and event-time record timestamp.
        expected_headers = {k: str(v) for k, v in envelope.items()
                            if k != "payload" and v is not None}
        assert record.headers == expected_headers
        occurred = parse_event(envelope).occurred_at
        assert record.timestamp_ms == int(occurred.timestamp() * 1000)
        # Confluent wire format: magic 0, 4-byte id of the subject's registered schema.
        magic, schema_id = struct.unpack(">bI", record.raw_value[:5])
        schema = default_catalog().get(envelope["event_name"], 1)
        assert schema is not None
        assert (magic, schema_id) == (0, registered[schema.subject])

    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT event_id::text, kafka_partition, kafka_offset FROM outbox_events")).all()
    for event_id, partition, offset in rows:
        assert (partition, offset) == (by_id[event_id].partition, by_id[event_id].offset)


def test_production_serializer_refuses_unregistered_subjects(test_settings: Settings) -> None:
    """The relay looks schemas up; it never registers one (DESIGN.md §3)."""
    from confluent_kafka.serialization import MessageField, SerializationContext

    from nmc.infra.schema_registry import value_serializer

    schema = default_catalog().get("nmc.telephony.CallDetected", 1)
    assert schema is not None
    record = parse_event(EXAMPLES[0]).to_avro(schema)
    topic = f"unregistered-{uuid.uuid4().hex[:8]}"
    with registry_client(test_settings) as registry:
        serializer = value_serializer(registry, schema)
        try:
            serializer(record, SerializationContext(topic, MessageField.VALUE))
        except Exception as exc:
            assert "404" in str(exc) or "not found" in str(exc).lower()
        else:
            raise AssertionError("serializer registered or found a schema it should not have")
        subjects = registry.get_subjects()
    assert not any(s.startswith(topic) for s in subjects)
