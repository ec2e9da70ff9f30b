"""OpenTelemetry tracing for every process: one missed call, one trace.

W3C trace context (`traceparent`) travels with the work itself: in the outbox row, in the Kafka
record header `traceparent`, in the queued text (`outbound_messages.traceparent`). Each process
continues the trace it finds there, so the spans of the edges, the relay, the reactor, the
sender and the stream workers join into one parent/child chain across processes:
webhook → outbox append → publish → reaction → text sent → outbox append → publish → read model.

Off by default and free when off: `configure` then installs nothing, the API's no-op tracer
stays in place, and the hot paths check `enabled()` (a module global) once per batch before
doing any tracing work. On with the standard variables: `OTEL_TRACES_EXPORTER=otlp` (OTLP over
HTTP/protobuf; the exporter reads `OTEL_EXPORTER_OTLP_ENDPOINT`, `..._TRACES_ENDPOINT`,
`..._HEADERS`, ... itself) or `console`; `OTEL_SERVICE_NAME` overrides the process's name and
`OTEL_TRACES_SAMPLER` / `..._ARG` pick the sampler (read by the SDK). `NMC_TRACES_DIR` adds a
file per process (JSON lines, one finished span a line: tests, offline debugging).

Domain code uses only the OpenTelemetry API and the small helpers below; the SDK is imported
here, by `configure`, and only when tracing is on.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from nmc.contract.headers import TRACEPARENT

log = logging.getLogger(__name__)

HEADER = TRACEPARENT
"""The Kafka header (and outbox column) that carries the W3C trace context (optional)."""


class TracingSettings(BaseSettings):
    """Tracing of every process (the OpenTelemetry standard variables, and one of ours)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    otel_traces_exporter: Literal["none", "otlp", "console"] = Field(
        default="none",
        description="Where spans go: `none` (tracing off unless `NMC_TRACES_DIR` is set), "
        "`otlp` (OTLP over HTTP/protobuf, to `OTEL_EXPORTER_OTLP_ENDPOINT` or "
        "`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, read by the exporter with the other "
        "`OTEL_EXPORTER_OTLP_*` variables) or `console` (stdout).")
    otel_service_name: str | None = Field(
        default=None, description="The `service.name` of this process's spans (default: "
        "`nmc-edge`, `nmc-relay`, `nmc-reactor`, `nmc-sender`, `nmc-worker-<app>`, `nmc-api`, "
        "`nmc-demo`).")
    otel_sdk_disabled: bool = Field(
        default=False, description="`true` turns tracing off whatever else is set.")
    nmc_traces_dir: Path | None = Field(
        default=None, description="Also write every finished span, one JSON object a line, "
        "to `<dir>/<service>-<pid>.jsonl` (tests, offline debugging); turns tracing on.")


_lock = threading.Lock()
_configured = False
_enabled = False
_propagator = TraceContextTextMapPropagator()


def enabled() -> bool:
    """Whether this process traces (cheap: check it before building spans on a hot path)."""
    return _enabled


def configure(service: str, settings: TracingSettings | None = None) -> bool:
    """Install the tracer provider for this process from the environment, once (later calls,
    from other components of the same process, change nothing); returns `enabled()`."""
    global _configured, _enabled
    with _lock:
        if _configured:
            return _enabled
        _configured = True
        settings = settings or TracingSettings()
        if settings.otel_sdk_disabled or (
                settings.otel_traces_exporter == "none" and settings.nmc_traces_dir is None):
            return False
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )

        name = settings.otel_service_name or service
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        if settings.otel_traces_exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif settings.otel_traces_exporter == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        if settings.nmc_traces_dir is not None:
            path = settings.nmc_traces_dir / f"{name}-{os.getpid()}.jsonl"
            from nmc.infra.trace_files import JsonLinesExporter

            # synchronous: every span is on disk when it ends, whatever way the process stops
            provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
        trace.set_tracer_provider(provider)
        _enabled = True
        log.info("tracing on: service %s, exporter %s%s", name, settings.otel_traces_exporter,
                 f", spans also to {settings.nmc_traces_dir}" if settings.nmc_traces_dir else "")
        return True


def tracer(component: str) -> Tracer:
    """The tracer of one component (`nmc.<component>` is the spans' instrumentation scope)."""
    return trace.get_tracer(f"nmc.{component}")


def traceparent_of(span: Span | None = None) -> str | None:
    """The W3C `traceparent` of `span` (default: the current one); None without a valid one."""
    ctx = (span or trace.get_current_span()).get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def parent_from(traceparent: str | None) -> Context | None:
    """The context a `traceparent` value names, to start a child span in; None when the value
    is absent or malformed (the span then starts a trace of its own)."""
    if not traceparent:
        return None
    context = _propagator.extract({HEADER: traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None
