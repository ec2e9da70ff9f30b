"""Trace context helpers (pure): W3C round trip, the header the relay sends, the span file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import get_current_span

from nmc.infra import tracing
from nmc.infra.trace_files import JsonLinesExporter
from producers.relay.encoding import row_headers
from producers.relay.ports import OutboxRow
from producers.relay.publisher import with_traceparent

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def row(traceparent: str | None) -> OutboxRow:
    return OutboxRow(1, "e", "nmc.telephony.CallDetected", "1.0.0", "t", "c", None,
                     "2026-01-01T00:00:00Z", 0, {}, "nmc.telephony", "t:c", 0, 0.0, 0,
                     traceparent=traceparent)


def test_a_traceparent_names_the_parent_and_round_trips() -> None:
    parent = tracing.parent_from(TP)
    assert parent is not None
    assert tracing.traceparent_of(get_current_span(parent)) == TP


@pytest.mark.parametrize("value", [None, "", "garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"])
def test_no_or_a_malformed_traceparent_starts_no_child(value: str | None) -> None:
    assert tracing.parent_from(value) is None


def test_the_relay_sends_the_rows_traceparent_only_when_it_has_one() -> None:
    assert ("traceparent", TP) in row_headers(row(TP))
    assert "traceparent" not in dict(row_headers(row(None)))


def test_a_publish_span_replaces_the_writers_context_in_the_header() -> None:
    span = TracerProvider().get_tracer("t").start_span("publish", context=tracing.parent_from(TP))
    headers = with_traceparent(row_headers(row(TP)), span)
    sent = [v for k, v in headers if k == "traceparent"]
    assert sent == [tracing.traceparent_of(span)]
    assert str(sent[0]).split("-")[1] == TP.split("-")[1]  # same trace, new parent span


def test_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "NMC_TRACES_DIR", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(tracing, "_configured", False)
    assert tracing.configure("nmc-test", tracing.TracingSettings()) is False
    assert tracing.enabled() is False


def test_the_span_file_holds_one_json_span_a_line(tmp_path: Path) -> None:
    provider = TracerProvider()
    path = tmp_path / "spans.jsonl"
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
    tracer = provider.get_tracer("nmc.test")
    with tracer.start_as_current_span("parent", context=tracing.parent_from(TP)), \
            tracer.start_as_current_span("child", attributes={"k": "v"}):
        pass
    provider.shutdown()
    child, parent = (json.loads(line) for line in path.read_text().splitlines())
    assert child["name"] == "child" and child["attributes"] == {"k": "v"}
    assert child["parent_span_id"] == parent["span_id"]
    assert parent["parent_span_id"] == TP.split("-")[2]
    assert child["trace_id"] == parent["trace_id"] == TP.split("-")[1]
