"""The status of an outbound message, one place for the column `outbound_messages.status`.

Two writers move it and each asks its own question of the same order:

* the status webhook (`advances`): Twilio's callbacks come late, twice or out of order, so a
  status is taken only when it moves the message forward by `RANK`;
* the sender (`can_transition`): its claim state machine, from `TRANSITIONS`:

    queued --claim (committed before the API call)--> sending
    sending --API answered with a message--> sent
    sending --provider refused (4xx with a code)--> failed
    sending --no usable answer (timeout, 5xx, transport error)--> unknown
    sending --its sender died (claim lock free)--> unknown
    unknown --status callback / reconciliation--> sent | delivered | failed

Nothing ever goes back to `queued`: a message is handed to the API at most once. `unknown`
means "the provider may or may not have it" and is for reconciliation, never a blind resend.
(The read model's own order, `nmc_streams.conversation.state.STATUS_RANK`, is a convergence
lattice over events, not a guard of this column.)
"""

from __future__ import annotations

# Twilio MessageStatus -> catalog delivery status. Statuses before the hand-off to the carrier
# (accepted, scheduled, queued, sending) carry no news for the catalog: acknowledged, no event.
_DELIVERY = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}

# Progress of a message. `sending` and `unknown` are the sender's own (pre-answer) states;
# delivered and failed are both terminal, so neither can follow the other.
RANK = {"queued": 0, "sending": 1, "unknown": 1, "sent": 2, "delivered": 3, "failed": 3}

TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"sending"}),
    "sending": frozenset({"sent", "failed", "unknown", "delivered"}),
    "unknown": frozenset({"sent", "delivered", "failed"}),
    "sent": frozenset({"delivered", "failed"}),
    "delivered": frozenset(),
    "failed": frozenset(),
}


def delivery_status(message_status: str) -> str | None:
    """The catalog's DeliveryUpdated status for a Twilio MessageStatus, or None to ignore."""
    return _DELIVERY.get(message_status)


def advances(current: str, new: str) -> bool:
    """True when `new` moves a message forward (never backwards, never out of a terminal)."""
    return RANK[new] > RANK[current]


def can_transition(current: str, new: str) -> bool:
    """True when the sender may move a message from `current` to `new`."""
    return new in TRANSITIONS[current]
