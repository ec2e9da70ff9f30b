"""The operator surfaces: `nmc tenants add|list` and the real uvicorn server of `nmc edge`."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn
from edges_support import (
    BASE_URL,
    CALLER,
    TENANT_NUMBER,
    make_settings,
    outbox,
)
from sqlalchemy import Engine
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from producers.edges.app import create_edge_app
from producers.tenants import cli as tenants_cli
from producers.tenants.cli import tenants_app


def test_tenants_add_and_list(engine: Engine, monkeypatch) -> None:
    monkeypatch.setattr(tenants_cli, "_engine", lambda: engine)
    runner = CliRunner()
    ok = runner.invoke(tenants_app, [
        "add", "--name", "Ace Plumbing", "--number", "+13105550000", "--number",
        "+13105550003", "--time-zone", "America/Los_Angeles", "--stripe-customer", "cus_A"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(tenants_app, ["add", "--name", "X", "--number", "555",
                                      "--time-zone", "Mars/Base"])
    assert bad.exit_code == 2
    assert "numbers[0]" in bad.output and "time_zone" in bad.output
    taken = runner.invoke(tenants_app, ["add", "--name", "Y", "--number", "+13105550000",
                                        "--time-zone", "UTC"])
    assert taken.exit_code == 2 and "already taken" in taken.output
    listed = runner.invoke(tenants_app, ["list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    assert "Ace Plumbing" in listed.output and "+13105550003" in listed.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_server_verifies_against_the_public_url(engine: Engine, tenant) -> None:
    port = _free_port()
    settings = make_settings(port=port)
    server = uvicorn.Server(uvicorn.Config(create_edge_app(settings, engine),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        params = {"CallSid": "CA77", "CallStatus": "busy", "From": CALLER, "To": TENANT_NUMBER}
        # Twilio signs the public URL, not the address the proxy forwards to.
        signature = RequestValidator("twilio-test-auth-token").compute_signature(
            BASE_URL + "/twilio/voice/status", params)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            r = http.post("/twilio/voice/status", data=params,
                          headers={"X-Twilio-Signature": signature})
        assert r.status_code == 200, r.text
        assert [e.event_name for e in outbox(engine)] == ["nmc.telephony.CallDetected"]
    finally:
        server.should_exit = True
        thread.join(20)
