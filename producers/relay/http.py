"""The relay's HTTP endpoint: Prometheus `/metrics` and the `/healthz` probe on one port."""

from __future__ import annotations

import time
from http.server import ThreadingHTTPServer

from prometheus_client import CollectorRegistry

from nmc.infra import probe_http
from producers.relay.health import RelayHealth, assess


def serve(
    port: int,
    registry: CollectorRegistry,
    health: RelayHealth,
    stale_after_s: float,
    host: str = "0.0.0.0",  # noqa: S104 - a probe endpoint must be reachable by the supervisor
) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread; `shutdown()` the returned server to stop it."""
    return probe_http.serve(port, registry,
                            lambda: assess(health, time.monotonic(), stale_after_s),
                            "relay", host)
