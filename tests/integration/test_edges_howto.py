"""docs/producers/edges.md, "How to add a webhook", done step by step: the dial-action
callback of the how-to (its domain function is `record_call_status`, step 1), its router
(step 2, written here as the how-to shows it), served by `create_edge_app` after `ROUTERS`
(step 3), and this test (step 4). If the how-to stops being true, this fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from edges_support import BASE_URL, CALLER, TENANT_NUMBER, outbox, twilio_post
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from producers.edges import twilio_input, twiml
from producers.edges.app import create_edge_app
from producers.edges.deps import EdgeDep, now
from producers.edges.routes import ROUTERS
from producers.edges.settings import EdgeSettings
from producers.telephony.calls import CallStatusUpdate, record_call_status
from producers.tenants import Tenant

# --- step 2: the router module (producers/edges/routes/twilio_dial.py) ----------------------
router = APIRouter()


@router.post("/twilio/voice/dial-action")
async def twilio_dial_action(request: Request, edge: EdgeDep) -> Response:
    params = await edge.twilio_form(request)
    twilio_input.require(params, "CallSid", "DialCallStatus", "From", "To",
                         phones=("From", "To"))
    dial = CallStatusUpdate(params["CallSid"], params["DialCallStatus"], params["From"],
                            params["To"])
    idle_s = edge.settings.thread_idle_s
    result = await edge.transaction_async(
        lambda s: record_call_status(s, edge.writer, dial, now(), idle_s))
    return twiml.answer(request.url.path, result, twiml.empty_voice_twiml())


# --- step 3: registered after the others (`ROUTERS` in producers/edges/routes/__init__.py) --
@pytest.fixture
def dial_client(edge_settings: EdgeSettings, engine: Engine) -> Iterator[TestClient]:
    app = create_edge_app(edge_settings, engine, routers=(*ROUTERS, router))
    with TestClient(app, base_url=BASE_URL) as c:
        yield c


# --- step 4: its test ---------------------------------------------------------------------
DIAL = "/twilio/voice/dial-action"


def _dial(sid: str, status: str = "no-answer") -> dict[str, str]:
    return {"CallSid": sid, "DialCallStatus": status, "From": CALLER, "To": TENANT_NUMBER}


def test_the_new_webhook_writes_its_event_once(dial_client: TestClient, engine: Engine,
                                               tenant: Tenant) -> None:
    first = twilio_post(dial_client, DIAL, _dial("CA-dial-1"))
    assert first.status_code == 200, first.text
    assert first.headers["X-NMC-Outcome"] == "call-detected"
    again = twilio_post(dial_client, DIAL, _dial("CA-dial-1"))
    assert again.headers["X-NMC-Outcome"] == "replayed"
    events = outbox(engine)
    assert [(e.event_name, e.tenant_id) for e in events] == [
        ("nmc.telephony.CallDetected", tenant.tenant_id)]
    assert events[0].payload["provider_ref"] == "CA-dial-1"


def test_the_new_webhook_refuses_like_the_others(dial_client: TestClient, engine: Engine,
                                                 tenant: Tenant) -> None:
    unsigned = twilio_post(dial_client, DIAL, _dial("CA-dial-2"), signature=None)
    assert unsigned.status_code == 403
    missing = twilio_post(dial_client, DIAL, {"CallSid": "CA-dial-3", "From": CALLER,
                                              "To": TENANT_NUMBER})
    assert missing.status_code == 400
    assert missing.json()["errors"] == [{"field": "DialCallStatus",
                                         "reason": "required parameter is missing"}]
    answered = twilio_post(dial_client, DIAL, _dial("CA-dial-4", "completed"))
    assert answered.headers["X-NMC-Outcome"] == "ignored-call-status"
    assert outbox(engine) == []
    # the other routes are still served beside it
    assert twilio_post(dial_client, "/twilio/voice/status", {}, signature=None).status_code == 403
