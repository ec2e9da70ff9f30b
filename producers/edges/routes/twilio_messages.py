"""`POST /twilio/sms` (an inbound text) and `POST /twilio/messages/status` (a delivery report
of ours): `producers.telephony.messages`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from producers.edges import twilio_input, twiml
from producers.edges.deps import EdgeDep, now
from producers.telephony.messages import receive_sms, record_message_status

router = APIRouter()


@router.post("/twilio/sms")
async def twilio_sms(request: Request, edge: EdgeDep) -> Response:
    params = await edge.twilio_form(request)
    sms = twilio_input.inbound_sms(params)
    idle_s = edge.settings.thread_idle_s
    result = await edge.transaction_async(
        lambda s: receive_sms(s, edge.writer, sms, now(), idle_s))
    return twiml.answer(request.url.path, result, twiml.empty_messaging_twiml())


@router.post("/twilio/messages/status")
async def twilio_message_status(request: Request, edge: EdgeDep) -> Response:
    params = await edge.twilio_form(request)
    report = twilio_input.message_status(params, request.query_params.get("mid"))
    result = await edge.transaction_async(
        lambda s: record_message_status(s, edge.writer, report, now()))
    return twiml.answer(request.url.path, result, twiml.empty_messaging_twiml())
