"""What a provider webhook did (`HookResult`): the domain functions of telephony and billing
return it, the edges answer its `outcome` and log its `detail`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

OUTCOME_HEADER = "X-NMC-Outcome"
"""The response header a webhook answers its outcome in (counted by the edge's metrics
middleware as `nmc_edge_webhook_outcomes_total`)."""

# The outcome vocabulary of the webhooks (the X-NMC-Outcome header, the Stripe answer):
# fixed strings of ours, never request data.
Outcome = Literal[
    "call-detected", "sms-received", "delivery-updated", "subscription-updated", "replayed",
    "ignored-call-status", "ignored-message-status", "ignored-not-forward",
    "ignored-event-type", "ignored-older",
]


@dataclass(frozen=True)
class HookResult:
    """What a webhook did: `written` False means acknowledged without a new event.

    `outcome` is answered to the caller; `detail` (which may quote request data) is only
    logged."""

    outcome: Outcome
    event_id: UUID | None = None
    detail: str = ""

    @property
    def written(self) -> bool:
        return self.event_id is not None
