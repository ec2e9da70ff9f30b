"""The answer of the Twilio webhooks: an empty TwiML document (replies go through the sender,
behind the compliance gate — never inline) and the outcome in `X-NMC-Outcome`."""

from __future__ import annotations

import logging

from fastapi.responses import Response
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from producers.outcomes import OUTCOME_HEADER, HookResult

log = logging.getLogger(__name__)
XML = "application/xml"


def empty_messaging_twiml() -> str:
    """Acknowledges an inbound SMS or a status callback without replying."""
    return str(MessagingResponse())


def empty_voice_twiml() -> str:
    """Acknowledges a voice status callback."""
    return str(VoiceResponse())


def answer(path: str, result: HookResult, twiml: str) -> Response:
    """The TwiML answer of a handled callback; the result's detail is only logged."""
    log.info("twilio %s: %s (%s)", path, result.outcome, result.detail)
    # The header carries only our own fixed vocabulary (HookResult.outcome), never
    # request data: a CR/LF or non-latin-1 value would break the response.
    return Response(twiml, media_type=XML, headers={OUTCOME_HEADER: result.outcome})
