"""The sender's outcome classification (pure, unit-tested); the claim state machine it
follows is `producers.conversation.message_status`."""

from __future__ import annotations

from dataclasses import dataclass


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
