"""`LocalTwilio`: a loopback stand-in for Twilio's Messages endpoint (demo and tests).

It answers `POST /2010-04-01/Accounts/{sid}/Messages.json` like Twilio does (201 with a
message sid) and records every call, so the no-double-send rule can be counted. Numbers in
`refuse` get the configured error instead (e.g. 400 / 21211 for an invalid `To`).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl


class LocalTwilio:
    def __init__(self, account_sid: str,
                 refuse: Mapping[str, tuple[int, int, str]] | None = None) -> None:
        self.account_sid = account_sid
        self.calls: list[dict[str, str]] = []
        refusals = dict(refuse or {})
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                call = {"path": self.path, **form}
                calls.append(call)
                to = form.get("To", "")
                if to in refusals:
                    status, code, message = refusals[to]
                    body: dict[str, object] = {"code": code, "status": status,
                                               "message": message}
                else:
                    status = 201
                    body = {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": to,
                            "from": form.get("From"), "body": form.get("Body"),
                            "account_sid": account_sid}
                    call["Sid"] = str(body["sid"])
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def calls_to(self, phone: str) -> int:
        return sum(1 for c in self.calls if c.get("To") == phone)

    def start(self) -> LocalTwilio:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LocalTwilio:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
