"""Pure telephony rules (no I/O): which call statuses are missed calls, what a text may carry."""

from __future__ import annotations

from nmc.contract import payload

MISSED_CALL_STATUSES = frozenset({"no-answer", "busy", "failed"})


def missed_call_reason(call_status: str) -> str | None:
    """The CallDetected reason for a final call status, or None (answered / in progress:
    acknowledged and ignored)."""
    return call_status if call_status in MISSED_CALL_STATUSES else None


def redact_secrets(text: str) -> str:
    """Customers sometimes paste keys into texts; events carry no secrets (catalog §0), and
    refusing the SMS would lose the message, so the credential-shaped part is redacted."""
    return payload.redact_secrets(text)
