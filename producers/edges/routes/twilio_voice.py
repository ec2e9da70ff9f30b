"""`POST /twilio/voice/status`: a missed call (`producers.telephony.calls`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from producers.edges import twilio_input, twiml
from producers.edges.deps import EdgeDep, now
from producers.telephony.calls import record_call_status

router = APIRouter()


@router.post("/twilio/voice/status")
async def twilio_voice_status(request: Request, edge: EdgeDep) -> Response:
    params = await edge.twilio_form(request)
    call = twilio_input.call_status(params)
    idle_s = edge.settings.thread_idle_s
    result = await edge.transaction_async(
        lambda s: record_call_status(s, edge.writer, call, now(), idle_s))
    return twiml.answer(request.url.path, result, twiml.empty_voice_twiml())
