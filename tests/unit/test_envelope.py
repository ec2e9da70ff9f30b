"""Envelope and payload validation: every rule names the field and the reason."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nmc.contract.envelope import InvalidEvent, new_event, parse_event
from nmc.contract.examples import catalog_metadata, example_envelopes
from nmc.contract.schemas import default_catalog

EXAMPLES = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "catalog_examples.json").read_text()
)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["event_name"])
def test_catalog_section_10_examples_are_accepted_as_printed(example: dict[str, Any]) -> None:
    event = parse_event(example)
    assert event.to_json() == example


def test_every_catalog_event_has_a_valid_example() -> None:
    import uuid

    envelopes = example_envelopes(uuid.uuid4(), uuid.uuid4())
    assert {e["event_name"] for e in envelopes} == default_catalog().event_names
    for envelope in envelopes:
        assert parse_event(envelope).event_name == envelope["event_name"]


def _broken(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(base or EXAMPLES[0])
    target = data
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[part]
    if value is _DELETE:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return data


_DELETE = object()

CASES = [
    ("event_id", "not-a-uuid", "event_id", "not a UUID"),
    ("tenant_id", "a7b1d0eed0a84b3a9a6c1a2b3c4d5e6f", "tenant_id", "canonical"),
    ("event_name", "telephony.CallDetected", "event_name", "nmc.<domain>.<EventName>"),
    ("event_name", "nmc.weather.Rain", "event_name", "unknown domain"),
    ("event_name", "nmc.telephony.CallVanished", "event_name", "unknown event"),
    ("schema_version", "1.0", "schema_version", "semantic version"),
    ("schema_version", "2.0.0", "schema_version", "no major version 2"),
    ("schema_version", "1.9.0", "schema_version", "newer than the schema"),
    ("occurred_at", "2025-09-01T18:22:03+02:00", "occurred_at", "RFC3339 UTC"),
    ("occurred_at", "2025-09-01 18:22:03", "occurred_at", "RFC3339 UTC"),
    ("causation_id", "nope", "causation_id", "not a UUID"),
    ("payload.from_phone", "310-555-1212", "payload.from_phone", "E.164"),
    ("payload.to_phone", "+1 310 555 0000", "payload.to_phone", "E.164"),
    ("payload.reason", "hung-up", "payload.reason", "not one of"),
    ("payload.call_id", _DELETE, "payload.call_id", "required field is missing"),
    ("payload.colour", "blue", "payload.colour", "unknown field"),
    ("payload.provider_ref", "sk_live_abcdefghijkl1234", "payload.provider_ref", "credential"),
    ("payload.provider_ref", 42, "payload.provider_ref", "expected a string"),
    ("surprise", 1, "surprise", "unknown envelope field"),
]


@pytest.mark.parametrize(("path", "value", "field", "reason"), CASES)
def test_bad_input_names_field_and_reason(path: str, value: Any, field: str, reason: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(_broken(path, value))
    fields = {e.field: e.reason for e in caught.value.errors}
    assert field in fields, caught.value.errors
    assert reason in fields[field]
    assert field in str(caught.value)


def test_all_payload_errors_are_reported_at_once() -> None:
    data = _broken("payload.from_phone", "x")
    data["payload"]["reason"] = "nope"
    with pytest.raises(InvalidEvent) as caught:
        parse_event(data)
    assert {e.field for e in caught.value.errors} == {"payload.from_phone", "payload.reason"}


def test_nullable_and_typed_payload_fields() -> None:
    base = {
        "event_name": "nmc.conversation.DeliveryUpdated",
        "tenant_id": "a7b1d0ee-d0a8-4b3a-9a6c-1a2b3c4d5e6f",
        "correlation_id": "2f1a3c4b-8a9d-4a8e-9c22-bf0a1c9d22aa",
    }
    payload = {"message_id": "7f0d8e2c-9e65-4a1a-a7f4-6f3f8b9c0a11", "status": "failed",
               "provider_ref": "SM1", "error_code": None}
    assert new_event(payload=payload, **base).payload["error_code"] is None
    with pytest.raises(InvalidEvent, match=r"payload.updated_item_ids\[1\]: not a UUID"):
        new_event(
            "nmc.catalog.CatalogUpdated",
            tenant_id=base["tenant_id"], correlation_id=base["correlation_id"],
            payload={"updated_item_ids": [payload["message_id"], "x"], "full_refresh": False},
        )
    with pytest.raises(InvalidEvent, match=r"payload\.full_refresh: expected true or false"):
        new_event(
            "nmc.catalog.CatalogUpdated",
            tenant_id=base["tenant_id"], correlation_id=base["correlation_id"],
            payload={"updated_item_ids": [], "full_refresh": "no"},
        )


def test_record_key_topic_and_avro_record() -> None:
    event = parse_event(EXAMPLES[1])
    assert event.key == f"{event.tenant_id}:{event.correlation_id}"
    assert event.topic == "nmc.scheduling"
    schema = default_catalog().get(event.event_name, 1)
    assert schema is not None
    record = event.to_avro(schema)
    assert record["payload"]["start"].isoformat() == "2025-09-02T17:00:00+00:00"


@given(st.text(max_size=30))
def test_random_phone_strings_never_crash_the_validator(phone: str) -> None:
    data = _broken("payload.from_phone", phone)
    try:
        parse_event(data)
    except InvalidEvent as exc:
        assert all(e.field.startswith("payload.from_phone") for e in exc.errors)


def test_metadata_lists_exactly_the_schema_events() -> None:
    assert set(catalog_metadata()) == default_catalog().event_names
