"""`nmc tail`'s decisions without Kafka: topic, start offsets, filters, partition by key, views."""

from __future__ import annotations

import pytest
from rich.console import Console

from nmc.contract.keys import java_partition
from nmc.tail import (
    TailRecord,
    TailSpec,
    event_name_matches,
    keep,
    partitions_to_read,
    resolve_topic,
    start_offset,
)
from nmc.tail_view import render_record


def test_domain_or_topic() -> None:
    assert resolve_topic("telephony") == "nmc.telephony"
    assert resolve_topic("nmc.dlq.nmc-reactions") == "nmc.dlq.nmc-reactions"


@pytest.mark.parametrize(("spec", "low", "high", "start"), [
    (TailSpec("t", from_beginning=True), 5, 100, 5),
    (TailSpec("t"), 5, 100, 90),
    (TailSpec("t", last=200), 5, 100, 5),
    (TailSpec("t", last=0), 5, 100, 100),
    (TailSpec("t"), 0, 0, 0),
])
def test_start_offset(spec: TailSpec, low: int, high: int, start: int) -> None:
    assert start_offset(spec, low, high) == start


@pytest.mark.parametrize(("pattern", "name", "ok"), [
    (None, "nmc.telephony.CallDetected", True),
    ("nmc.telephony.CallDetected", "nmc.telephony.CallDetected", True),
    ("nmc.scheduling.", "nmc.scheduling.AppointmentBooked", True),
    ("nmc.scheduling.", "nmc.telephony.CallDetected", False),
    ("*Booked", "nmc.scheduling.AppointmentBooked", True),
    ("*Booked", "nmc.scheduling.AppointmentHeld", False),
    ("nmc.telephony.CallDetected", None, False),
])
def test_event_name_filter(pattern: str | None, name: str | None, ok: bool) -> None:
    assert event_name_matches(pattern, name) is ok


def test_key_filter_and_its_partition() -> None:
    spec = TailSpec("t", key="a:b", event_name="nmc.x.")
    assert keep(spec, "a:b", {"event_name": "nmc.x.Y"})
    assert not keep(spec, "a:c", {"event_name": "nmc.x.Y"})
    assert not keep(spec, "a:b", {"event_name": "nmc.z.Y"})
    assert partitions_to_read(spec, [0, 1, 2, 3, 4, 5]) == [java_partition("a:b", 6)]
    assert partitions_to_read(TailSpec("t"), [2, 0, 1]) == [0, 1, 2]


def _record(**kw: object) -> TailRecord:
    base: dict[str, object] = dict(
        topic="nmc.telephony", partition=3, offset=42, timestamp_ms=1_756_746_000_000,
        key="t:c", headers={"event_name": "nmc.telephony.CallDetected",
                            "schema_version": "1.0.0", "event_id": "e1"},
        value={"event_id": "e1", "payload": {"call_id": "c"}})
    base.update(kw)
    return TailRecord(**base)  # type: ignore[arg-type]


def test_json_form() -> None:
    assert _record().as_json() == {
        "topic": "nmc.telephony", "partition": 3, "offset": 42,
        "timestamp": "2025-09-01T17:00:00.000Z", "key": "t:c",
        "headers": {"event_name": "nmc.telephony.CallDetected", "schema_version": "1.0.0",
                    "event_id": "e1"},
        "value": {"event_id": "e1", "payload": {"call_id": "c"}}, "error": None,
    }


def test_rich_view_shows_where_headers_and_value_in_80_columns() -> None:
    console = Console(width=80, record=True, color_system=None)
    console.print(render_record(_record()))
    console.print(render_record(_record(value=None, error="cannot decode: EOFError: x")))
    text = console.export_text()
    assert "nmc.telephony  p3 @42  2025-09-01T17:00:00.000Z  key t:c" in text
    assert "nmc.telephony.CallDetected  1.0.0" in text
    assert "event_id  e1" in text
    assert '"call_id": "c"' in text
    assert "cannot decode: EOFError: x" in text
    assert max(len(line) for line in text.splitlines()) <= 80
