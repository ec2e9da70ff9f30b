"""The sender's claim state machine and outcome classification (pure, unit-tested).

    queued --claim (committed before the API call)--> sending
    sending --API answered with a message--> sent
    sending --provider refused (4xx with a code)--> failed
    sending --no usable answer (timeout, 5xx, transport error)--> unknown
    sending --its sender died (claim lock free)--> unknown
    unknown --status callback / reconciliation--> sent | delivered | failed

Nothing ever goes back to `queued`: a message is handed to the API at most once. `unknown`
means "the provider may or may not have it" and is for reconciliation, never a blind resend.
"""

from __future__ import annotations

from dataclasses import dataclass

TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"sending"}),
    "sending": frozenset({"sent", "failed", "unknown", "delivered"}),
    "unknown": frozenset({"sent", "delivered", "failed"}),
    "sent": frozenset({"delivered", "failed"}),
    "delivered": frozenset(),
    "failed": frozenset(),
}


def can_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS[current]


@dataclass(frozen=True)
class SendOutcome:
    """What the API call told us: `status` is sent, failed or unknown."""

    status: str
    provider_sid: str | None = None
    error_code: str | None = None
    detail: str = ""


def classify_error(http_status: int | None, code: int | None, detail: str) -> SendOutcome:
    """A 4xx from the provider is a definite refusal (failed, with its error code); anything
    else (5xx, timeout, connection reset) may have been accepted: unknown."""
    if http_status is not None and 400 <= http_status < 500:
        return SendOutcome("failed", None, str(code if code is not None else http_status),
                           detail)
    return SendOutcome("unknown", None, None, detail)
