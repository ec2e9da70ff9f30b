"""The operator surfaces: `nmc tenants add|list` and the real uvicorn server of `nmc edge`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from edges_support import (
    BASE_URL,
    CALLER,
    JWT_SECRET,
    STRIPE_SECRET,
    TENANT_NUMBER,
    TWILIO_TOKEN,
    outbox,
    twilio_signature,
)
from sqlalchemy import Engine
from support.waits import wait_until, watch_log
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from nmc.infra.net import free_port
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


def test_real_server_verifies_against_the_public_url(
    engine: Engine, database_url: str, tenant, tmp_path: Path
) -> None:
    """`nmc edge serve` as operators run it: its own process, settings from NMC_EDGE_* and
    DATABASE_URL, behind a proxy (Twilio signs the public URL, not the forwarded address)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "NMC_EDGE_PORT": str(port),
           "NMC_EDGE_HOST": "127.0.0.1", "NMC_EDGE_PUBLIC_BASE_URL": BASE_URL,
           "NMC_EDGE_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
           "NMC_EDGE_STRIPE_WEBHOOK_SECRET": STRIPE_SECRET, "NMC_EDGE_JWT_SECRET": JWT_SECRET}
    log = tmp_path / "edge.log"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "nmc.cli", "edge", "serve"], env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            watch_log(log)

            def serving() -> bool:
                assert server.poll() is None, f"edge serve exited: {log.read_text()}"
                try:
                    return bool(http.get("/healthz").json() == {"status": "ok"})
                except httpx.TransportError:
                    return False

            wait_until(serving, "edge serve to answer /healthz", 60)
            params = {"CallSid": "CA77", "CallStatus": "busy", "From": CALLER,
                      "To": TENANT_NUMBER}
            signature = twilio_signature("/twilio/voice/status", params)
            r = http.post("/twilio/voice/status", data=params,
                          headers={"X-Twilio-Signature": signature})
            assert r.status_code == 200, r.text
            # Signed over the forwarded address instead of the public URL: refused.
            local = RequestValidator(TWILIO_TOKEN).compute_signature(
                f"http://127.0.0.1:{port}/twilio/voice/status", params)
            assert http.post("/twilio/voice/status", data=params,
                             headers={"X-Twilio-Signature": local}).status_code == 403
        assert [e.event_name for e in outbox(engine)] == ["nmc.telephony.CallDetected"]
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(20)
