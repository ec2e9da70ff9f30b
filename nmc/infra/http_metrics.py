"""Prometheus metrics of an HTTP service (the read API, the edges): request count and latency
per route *template*, as `<prefix>_requests_total` and `<prefix>_request_duration_seconds`.

Labels use the template (`/v1/conversations/{conversation_id}`), never the raw path, so ids
cannot blow up the series count; unmatched paths share the label `unmatched`. Each app has its
own registry so tests can build several apps in one process.

An app whose routes answer what they did in a response header (the edges' `X-NMC-Outcome`:
`call-detected`, `replayed`, `ignored-…`, a fixed vocabulary) also gets
`<prefix>_webhook_outcomes_total{route, outcome}`, counted here from that header so routes need
no metrics code of their own. A status alone cannot tell a new fact from a provider's retry:
both answer 200.

The latency histogram of every route the app declares starts at zero (on the first request the
app serves, usually a probe or the first scrape): a series that first appears with one sample in
it gives `rate()` nothing to compare, so a route called once would never show a latency.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class HttpMetrics:
    """The metrics of one HTTP app; `prefix` is `nmc_<process>` (`nmc_api`, `nmc_edge`)."""

    def __init__(self, prefix: str, outcome_header: str | None = None) -> None:
        self.registry = CollectorRegistry()
        self.outcome_header = outcome_header.lower().encode() if outcome_header else None
        self.outcomes = Counter(
            f"{prefix}_webhook_outcomes", f"Answers by what they did ({outcome_header} header)",
            ["route", "outcome"], registry=self.registry,
        ) if outcome_header else None
        self.requests = Counter(
            f"{prefix}_requests", "HTTP requests answered", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{prefix}_request_duration_seconds", "Time to answer, by route template",
            ["method", "route"], buckets=BUCKETS, registry=self.registry,
        )
        self.prepared = False

    def prepare(self, routes: Iterable[object]) -> None:
        """Create the latency series of every (method, route template) at zero."""
        for route in routes:
            path = getattr(route, "path", None)
            for method in getattr(route, "methods", None) or ():
                if path and method != "HEAD":  # Starlette adds HEAD to every GET
                    self.latency.labels(method, path)
        self.prepared = True


class MetricsMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.metrics.prepared:
            self.metrics.prepare(getattr(scope.get("app"), "routes", ()))
        started = time.perf_counter()
        status = 500  # what the client sees if the app raises before answering
        outcome: str | None = None
        header = self.metrics.outcome_header

        async def _send(message: Message) -> None:
            nonlocal status, outcome
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if header is not None:
                    outcome = next((value.decode("latin-1") for name, value
                                    in message.get("headers", ()) if name == header), None)
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(
                time.perf_counter() - started
            )
            if outcome is not None and self.metrics.outcomes is not None:
                self.metrics.outcomes.labels(template, outcome).inc()
