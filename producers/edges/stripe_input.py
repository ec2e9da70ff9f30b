"""Stripe requests into typed input: the Stripe-Signature check (stripe's own, HMAC-SHA256
over "t.payload" and the timestamp within the tolerance) and the bounded fields of a
customer.subscription.* event (`producers.billing.stripe_events` takes it from there)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import stripe

from nmc.contract.errors import FieldError
from producers.billing.stripe_events import SubscriptionChange
from producers.bounds import text_problem, unix_time
from producers.errors import Refused
from producers.outcomes import HookResult

MAX_ID_CHARS = 255  # Stripe ids, types and statuses are short; bound what we store and echo


def verify_stripe(payload: bytes, signature: str | None, secret: str, tolerance_s: int) -> None:
    """403 unless Stripe-Signature is valid and recent; 400 if the body is not UTF-8."""
    if not signature:
        raise Refused(403, "missing Stripe-Signature header", "Stripe-Signature")
    try:
        # Signature and tolerance only: the body is parsed (and bounded) by
        # `parse_subscription_event`, so nothing of it is interpreted before it is trusted.
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance_s)
    except stripe.SignatureVerificationError as exc:
        raise Refused(403, str(exc.user_message or exc), "Stripe-Signature") from None
    except ValueError:  # not UTF-8
        raise Refused(400, "body is not UTF-8 text", "body") from None


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, Mapping) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _text(value: Any, field: str, errors: list[FieldError]) -> Any:
    """A required, storable string (bounds.text_problem), else a FieldError."""
    if not isinstance(value, str) or not value:
        errors.append(FieldError(field, "required string is missing"))
    elif (problem := text_problem(value)) is not None:
        errors.append(FieldError(field, problem))
    elif len(value) > MAX_ID_CHARS:
        errors.append(FieldError(field, f"longer than {MAX_ID_CHARS} characters"))
    return value


def parse_subscription_event(event: Mapping[str, Any]) -> SubscriptionChange:
    """The fields we need from a customer.subscription.* event, or 400 naming what's missing.

    `current_period_end` moved from the subscription to its items in Stripe API 2025-03-31;
    both places are read.
    """
    errors: list[FieldError] = []
    sub = _get(event, "data.object")
    if not isinstance(sub, Mapping):
        raise Refused(400, "missing subscription object", "data.object")
    out: dict[str, Any] = {}
    for key, path, value in (
        ("event_id", "id", _get(event, "id")),
        ("type", "type", _get(event, "type")),
        ("subscription_id", "data.object.id", _get(sub, "id")),
        ("customer", "data.object.customer", _get(sub, "customer")),
        ("status", "data.object.status", _get(sub, "status")),
    ):
        out[key] = _text(value, path, errors)
    out["created"] = unix_time(_get(event, "created"), "created", errors)
    items = _get(sub, "items.data")
    if not isinstance(items, list) or not items:
        errors.append(FieldError("data.object.items.data", "subscription has no items"))
        items = []
    prices = [_get(i, "price.id") for i in items]
    out["price_ids"] = [_text(p, f"data.object.items.data.{n}.price.id", errors)
                        for n, p in enumerate(prices) if isinstance(p, str)]
    period_end = _get(sub, "current_period_end")
    if period_end is None and items:
        period_end = _get(items[0], "current_period_end")
    out["current_period_end"] = unix_time(period_end, "data.object.current_period_end", errors)
    if errors:
        raise Refused.fields(400, errors)
    return SubscriptionChange(**out)


def read_subscription_event(payload: bytes) -> SubscriptionChange | HookResult:
    """Parse and bound a verified Stripe body without the database (before the transaction):
    a customer.subscription.* event's `SubscriptionChange`, an ignored `HookResult` for any
    other type, or a 400 naming the field."""
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise Refused(400, f"body is not valid JSON: {exc}", "body") from None
    except RecursionError:
        raise Refused(400, "body is nested too deeply", "body") from None
    if not isinstance(event, Mapping):
        raise Refused(400, "expected a JSON object", "body")
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type.startswith("customer.subscription."):
        return HookResult("ignored-event-type", detail=repr(event_type)[:100])
    return parse_subscription_event(event)
