"""Pure decisions of the edges (no I/O): status mappings, TwiML, plans, time ranges.

Kept apart from the routes and the database so each rule is unit-tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from nmc.contract.errors import FieldError

# --- telephony ----------------------------------------------------------------------------

MISSED_CALL_STATUSES = frozenset({"no-answer", "busy", "failed"})


def missed_call_reason(call_status: str) -> str | None:
    """The CallDetected reason for a final call status, or None (answered / in progress:
    acknowledged and ignored)."""
    return call_status if call_status in MISSED_CALL_STATUSES else None


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
_RANK = {"queued": 0, "sending": 1, "unknown": 1, "sent": 2, "delivered": 3, "failed": 3}


def delivery_status(message_status: str) -> str | None:
    """The catalog's DeliveryUpdated status for a Twilio MessageStatus, or None to ignore."""
    return _DELIVERY.get(message_status)


def advances(current: str, new: str) -> bool:
    """True when `new` moves a message forward (never backwards, never out of a terminal)."""
    return _RANK[new] > _RANK[current]


def empty_messaging_twiml() -> str:
    """TwiML that acknowledges an inbound SMS without replying (replies go through the
    sender, behind the compliance gate — never inline)."""
    return str(MessagingResponse())


def empty_voice_twiml() -> str:
    return str(VoiceResponse())


_SECRETS = (
    re.compile(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]{8,}"),
    re.compile(r"\bwhsec_[A-Za-z0-9]{8,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)


def redact_secrets(text: str) -> str:
    """Customers sometimes paste keys into texts; events carry no secrets (catalog §0), and
    refusing the SMS would lose the message, so the credential-shaped part is redacted."""
    for pattern in _SECRETS:
        text = pattern.sub("[redacted]", text)
    return text


# --- billing ------------------------------------------------------------------------------

# Stripe subscription status -> the catalog's closed set. Statuses outside it are folded into
# the nearest gate meaning: not paid yet / payment failing -> past_due; gone -> canceled.
_SUBSCRIPTION_STATUS = {
    "active": "active",
    "trialing": "trialing",
    "past_due": "past_due",
    "canceled": "canceled",
    "unpaid": "past_due",
    "incomplete": "past_due",
    "paused": "past_due",
    "incomplete_expired": "canceled",
}


def subscription_status(stripe_status: str) -> str | None:
    return _SUBSCRIPTION_STATUS.get(stripe_status)


def plan_for(price_ids: Iterable[str], price_plans: Mapping[str, str]) -> str | None:
    """The plan of a subscription: the best plan among its items' prices (pro > basic)."""
    plans = {price_plans[p] for p in price_ids if p in price_plans}
    if "pro" in plans:
        return "pro"
    if "basic" in plans:
        return "basic"
    return None


# --- scheduling ---------------------------------------------------------------------------


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open ranges [start, end) overlap — the rule the exclusion constraint enforces
    (back-to-back slots do not conflict)."""
    return a_start < b_end and b_start < a_end


def check_hold(
    start: datetime, end: datetime, ttl_s: int, max_ttl_s: int, now: datetime
) -> list[FieldError]:
    """Every reason a hold request is invalid, at once."""
    errors = []
    if start.tzinfo is None:
        errors.append(FieldError("start", "must carry a time zone (RFC3339)"))
    if end.tzinfo is None:
        errors.append(FieldError("end", "must carry a time zone (RFC3339)"))
    if errors:
        return errors
    if end <= start:
        errors.append(FieldError("end", "must be after start"))
    if end <= now:
        errors.append(FieldError("end", "is in the past"))
    if ttl_s <= 0 or ttl_s > max_ttl_s:
        errors.append(FieldError("ttl_seconds", f"must be within 1..{max_ttl_s}"))
    return errors


def hold_expiry(now: datetime, ttl_s: int) -> datetime:
    return now + timedelta(seconds=ttl_s)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
