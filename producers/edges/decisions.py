"""Pure decisions of the Twilio edge (no I/O): missed calls, TwiML, redaction.

Kept apart from the routes and the database so each rule is unit-tested on its own.
"""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from nmc.contract import payload

# --- telephony ----------------------------------------------------------------------------

MISSED_CALL_STATUSES = frozenset({"no-answer", "busy", "failed"})


def missed_call_reason(call_status: str) -> str | None:
    """The CallDetected reason for a final call status, or None (answered / in progress:
    acknowledged and ignored)."""
    return call_status if call_status in MISSED_CALL_STATUSES else None


def empty_messaging_twiml() -> str:
    """TwiML that acknowledges an inbound SMS without replying (replies go through the
    sender, behind the compliance gate — never inline)."""
    return str(MessagingResponse())


def empty_voice_twiml() -> str:
    return str(VoiceResponse())


def redact_secrets(text: str) -> str:
    """Customers sometimes paste keys into texts; events carry no secrets (catalog §0), and
    refusing the SMS would lose the message, so the credential-shaped part is redacted."""
    return payload.redact_secrets(text)
