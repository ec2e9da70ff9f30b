"""The writer's stored values: ids looked up in the background (never registered), NULL until
known, unknown subjects asked again only after the retry delay, a fresh start after fork."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from nmc.contract.envelope import Envelope, new_event
from nmc.contract.schemas import default_catalog
from nmc.contract.wire import SchemaEncoder, frame_schema_id
from producers.outbox.values import StoredValues, avro_fields, registry_lookup


def _event() -> Envelope:
    conversation = uuid.uuid4()
    return new_event(
        "nmc.conversation.MessageSent", tenant_id=uuid.uuid4(), correlation_id=conversation,
        occurred_at=datetime(2026, 11, 28, 13, 0, 0, 123456, tzinfo=UTC),
        payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversation),
                 "direction": "out", "status": "queued"},
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_registry_lookup_never_registers_and_says_none_for_an_unknown_subject() -> None:
    client = SchemaRegistryClient.new_client({"url": "mock://outbox-values-unknown"})
    lookup = registry_lookup(lambda: client)
    schema = default_catalog().get("nmc.conversation.MessageSent", 1)
    assert schema is not None
    assert lookup(schema.subject, schema.schema_str) is None
    assert client.get_subjects() == []  # looked up, not registered

    values = StoredValues(lookup)
    event = _event()
    assert values.value(event) is None
    values.wait()
    assert values.value(event) is None
    assert client.get_subjects() == []


def test_registry_lookup_finds_a_registered_schema() -> None:
    client = SchemaRegistryClient.new_client({"url": "mock://outbox-values-known"})
    schema = default_catalog().get("nmc.conversation.MessageSent", 1)
    assert schema is not None
    schema_id = client.register_schema(schema.subject, Schema(schema.schema_str, "AVRO"))
    lookup = registry_lookup(lambda: client)
    assert lookup(schema.subject, schema.schema_str) == schema_id


def test_null_until_the_id_is_known_then_the_framed_value() -> None:
    schema = default_catalog().get("nmc.conversation.MessageSent", 1)
    assert schema is not None
    values = StoredValues(lambda _subject, _schema: 42)
    event = _event()
    assert values.value(event) is None
    values.wait()
    value = values.value(event)
    assert value == SchemaEncoder(schema, 42).value(avro_fields(event))
    assert value is not None and frame_schema_id(value) == 42


def test_an_unknown_subject_or_an_unreachable_registry_is_asked_again_after_the_delay() -> None:
    calls: list[str] = []
    answer: list[int | Exception | None] = [ConnectionError("registry down")]

    def lookup(subject: str, _schema: str) -> int | None:
        calls.append(subject)
        result = answer[0]
        if isinstance(result, Exception):
            raise result
        return result

    clock = Clock()
    values = StoredValues(lookup, retry_s=30.0, clock=clock)
    event = _event()
    assert values.value(event) is None
    values.wait()
    assert len(calls) == 1
    clock.now += 29
    assert values.value(event) is None
    values.wait()
    assert len(calls) == 1  # not yet
    answer[0] = None  # the registry answers now, but does not know the subject
    clock.now += 2
    assert values.value(event) is None
    values.wait()
    assert len(calls) == 2
    answer[0] = 7
    clock.now += 31
    assert values.value(event) is None
    values.wait()
    assert len(calls) == 3
    value = values.value(event)
    assert value is not None and frame_schema_id(value) == 7
    assert len(calls) == 3  # known: no more lookups


def test_a_forked_child_starts_afresh() -> None:
    values = StoredValues(lambda _subject, _schema: 5)
    values.value(_event())
    values.wait()
    assert values.value(_event()) is not None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's cache and lookup thread are not its own
        try:
            first = values.value(_event())
            values.wait()
            second = values.value(_event())
            os.write(write, b"ok" if first is None and second is not None else b"no")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 2) == b"ok"
    os.close(read)
    os.close(write)


def test_an_answer_that_the_version_is_not_registered_refuses_the_event() -> None:
    values = StoredValues(lambda _subject, _schema: None, retry_s=30.0, clock=Clock())
    event = _event()
    assert values.refusal(event) is None  # nobody asked yet: the write is not refused
    assert values.value(event) is None
    values.wait()
    reason = values.refusal(event)
    assert reason is not None
    assert "nmc.conversation-nmc.conversation.v1.MessageSent" in reason
    assert event.schema_version in reason


def test_an_unreachable_registry_refuses_nothing() -> None:
    def down(_subject: str, _schema: str) -> int | None:
        raise ConnectionError("registry down")

    values = StoredValues(down, retry_s=30.0, clock=Clock())
    event = _event()
    values.value(event)
    values.wait()
    assert values.refusal(event) is None


def test_values_only_for_the_files_own_version_and_the_rows_topic() -> None:
    asked: list[str] = []

    def lookup(subject: str, _schema: str) -> int | None:
        asked.append(subject)
        return 7

    values = StoredValues(lookup, clock=Clock())
    event = _event()
    other = event.model_copy(update={"schema_version": "1.0.1"})  # not the file's version
    values.preload(".tcopy")
    values.wait()
    assert "nmc.conversation.tcopy-nmc.conversation.v1.MessageSent" in asked
    assert values.value(event) is None  # the domain topic's subject was not asked yet
    assert values.value(event, "nmc.conversation.tcopy") is not None
    assert values.value(other, "nmc.conversation.tcopy") is None
