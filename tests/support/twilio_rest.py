"""`ScriptedTwilio`: a loopback Messages endpoint for the sender tests that scripts answers
per `To` number (429 first, slow, ...), speaks HTTP/1.1 keep-alive, and time-stamps each
request so tests can count requests per number per second and catch a second send."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Call:
    to: str
    from_: str
    at: float  # time.monotonic() when the request arrived
    status: int


@dataclass
class Script:
    """Answers for one `To`: `throttle_first` 429 / 20429 answers, then 201 after `delay_s`."""

    throttle_first: int = 0
    delay_s: float = 0.0
    seen: int = field(default=0)


class ScriptedTwilio:
    def __init__(self, account_sid: str) -> None:
        self.account_sid = account_sid
        self.calls: list[Call] = []
        self.scripts: dict[str, Script] = {}
        self.connections = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API

            def setup(self) -> None:
                super().setup()
                with outer._lock:
                    outer.connections += 1

            def do_POST(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length", 0))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                to = form.get("To", "")
                with outer._lock:
                    script = outer.scripts.setdefault(to, Script())
                    script.seen += 1
                    throttled = script.seen <= script.throttle_first
                    delay = script.delay_s
                    status = 429 if throttled else 201
                    outer.calls.append(Call(to, form.get("From", ""), arrived, status))
                body: dict[str, object]
                if throttled:
                    body = {"code": 20429, "status": 429, "message": "Too Many Requests"}
                else:
                    if delay:
                        time.sleep(delay)
                    body = {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": to,
                            "account_sid": outer.account_sid}
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout) or died

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def accepted(self, to: str | None = None) -> list[Call]:
        """Requests answered 201 (to `to`, or all)."""
        with self._lock:
            return [c for c in self.calls if c.status == 201 and (to is None or c.to == to)]

    def requests_to(self, to: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.to == to)

    def __enter__(self) -> ScriptedTwilio:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()


def most_within(stamps: list[tuple[str, float]], window_s: float) -> int:
    """Most stamps of one key (e.g. the sending number) within any `window_s` seconds."""
    ordered = sorted(stamps, key=lambda s: s[1])
    return max((sum(1 for k, t in ordered[i:] if k == key and t - at < window_s)
                for i, (key, at) in enumerate(ordered)), default=0)
