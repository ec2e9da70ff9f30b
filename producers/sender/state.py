"""The sender's outcome classification (pure, unit-tested); the claim state machine it
follows is `producers.conversation.message_status`."""

from __future__ import annotations

from dataclasses import dataclass

# Twilio's "Too Many Requests" (HTTP 429, error 20429): the message was not accepted.
THROTTLED_CODE = 20429


@dataclass(frozen=True)
class SendOutcome:
    """What the API call told us: `status` is sent, failed or unknown; `throttled` when the
    provider refused for throughput (safe to try again: it did not take the message)."""

    status: str
    provider_sid: str | None = None
    error_code: str | None = None
    detail: str = ""
    throttled: bool = False


def classify_error(http_status: int | None, code: int | None, detail: str) -> SendOutcome:
    """A 4xx from the provider is a definite refusal (failed, with its error code); a 429 /
    20429 also says *retry later*; anything else (5xx, timeout, connection reset) may have
    been accepted: unknown."""
    if http_status is not None and 400 <= http_status < 500:
        return SendOutcome("failed", None, str(code if code is not None else http_status),
                           detail, throttled=http_status == 429 or code == THROTTLED_CODE)
    return SendOutcome("unknown", None, None, detail)
