"""`nmc tail` against the real stack: records produced as the relay produces them (Avro through
the registry, murmur2, headers, event-time timestamps) are read back decoded, with partition,
offset, key and headers; filters, --follow and both output forms. Keys are unique per test."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from confluent_kafka import Producer
from kafka_support import produce, telephony_events
from support.settings import PlatformSettings as Settings
from typer.testing import CliRunner

from nmc.cli import app
from nmc.contract.keys import java_partition
from nmc.infra.kafka_clients import producer_config
from nmc.tail import TailRecord, TailSpec, tail


def run_json(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["tail", *args, "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_tail_by_key_from_the_beginning_decodes_every_record(stack: Settings) -> None:
    key, events = telephony_events()
    _, others = telephony_events()
    produce(stack, [events[0], others[0], events[1]])
    records = run_json("telephony", "--from-beginning", "--key", key)
    assert [r["value"]["event_id"] for r in records] == [str(e.event_id) for e in events]
    partition = java_partition(key, stack.nmc_topic_partitions)
    for record, event in zip(records, events, strict=True):
        assert record["topic"] == "nmc.telephony"
        assert record["partition"] == partition
        assert record["key"] == key
        assert record["error"] is None
        assert record["headers"]["event_id"] == str(event.event_id)
        assert record["headers"]["event_name"] == event.event_name
        assert record["value"]["payload"] == event.to_json()["payload"]
        assert record["timestamp"].startswith(event.to_json()["occurred_at"].rstrip("Z"))
    assert records[0]["offset"] < records[1]["offset"]


def test_event_name_filter_and_last(stack: Settings) -> None:
    key, events = telephony_events()
    produce(stack, events)
    only_sms = run_json("nmc.telephony", "--key", key, "--last", "5",
                        "--event-name", "nmc.telephony.Inbound")
    assert [r["headers"]["event_name"] for r in only_sms] == ["nmc.telephony.InboundSmsReceived"]
    globbed = run_json("telephony", "--key", key, "--event-name", "*Detected")
    assert [r["value"]["event_id"] for r in globbed] == [str(events[0].event_id)]


def test_follow_sees_what_arrives_after_it_started(stack: Settings) -> None:
    key, events = telephony_events()
    ready, stop = threading.Event(), threading.Event()
    seen: list[TailRecord] = []
    spec = TailSpec("nmc.telephony", last=0, key=key, follow=True, max_records=2)

    def run() -> None:
        seen.extend(tail(stack, spec, stop=stop, on_ready=ready.set))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(30), "tail never assigned its partition"
        produce(stack, events)
        thread.join(60)
        assert not thread.is_alive(), f"--follow saw {len(seen)} of 2 records"
    finally:
        stop.set()
    assert [str(r.value["event_id"]) for r in seen] == [str(e.event_id) for e in events]
    assert all(r.headers["correlation_id"] == str(events[0].correlation_id) for r in seen)


def test_rich_output_and_unknown_topic(stack: Settings) -> None:
    key, events = telephony_events()
    produce(stack, events[:1])
    result = CliRunner().invoke(app, ["tail", "telephony", "--key", key, "--last", "3"],
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    partition = java_partition(key, stack.nmc_topic_partitions)
    assert f"nmc.telephony  p{partition} @" in result.output
    assert "nmc.telephony.CallDetected  1.0.0" in result.output
    assert f"event_id        {events[0].event_id}" in result.output
    assert '"provider_ref": ' in result.output
    missing = CliRunner().invoke(app, ["tail", f"nmc.missing-{uuid.uuid4().hex[:8]}"])
    assert missing.exit_code == 2
    assert "does not exist" in missing.output


def test_an_unframed_value_is_shown_with_the_contract_error_and_tail_goes_on(
        stack: Settings) -> None:
    """`nmc tail` decodes with the platform's one decoder (`nmc.infra.avro_decoder`, framing
    from `nmc.contract.wire`): bytes without the Confluent frame are reported as the contract's
    `UnframedValue`, and the record after them is decoded as usual."""
    key, events = telephony_events()
    producer = Producer(producer_config(stack))
    producer.produce("nmc.telephony", key=key.encode(), value=b"\x07not avro")
    assert producer.flush(30) == 0
    produce(stack, events[:1])
    records = run_json("telephony", "--key", key, "--last", "5")
    assert [r["error"] is None for r in records] == [False, True]
    assert records[0]["value"] is None
    assert records[0]["error"] == (
        "cannot decode: UnframedValue: unknown magic byte 7 (the Confluent wire format has 0)")
    assert records[1]["value"]["event_id"] == str(events[0].event_id)
