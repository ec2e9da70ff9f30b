"""One small HTTP endpoint per long-running process: Prometheus `/metrics` and a `/healthz`
probe on one port (the relay, the sender, the reactor). A thread, not an ASGI app: these
processes have no event loop, and a probe must answer while their main loop is busy."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Health = Callable[[], tuple[bool, dict[str, Any]]]
"""(healthy, body): 200 or 503 with the body as JSON."""


def serve(
    port: int,
    registry: CollectorRegistry,
    health: Health,
    name: str,
    host: str = "0.0.0.0",  # noqa: S104 - a probe endpoint must be reachable by the supervisor
) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread; `shutdown()` the returned server to stop it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                healthy, body = health()
                self._send(200 if healthy else 503, "application/json",
                           json.dumps(body).encode())
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # probes every few seconds would flood the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"{name}-http", daemon=True).start()
    return server
