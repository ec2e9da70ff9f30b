"""Billing rules (pure): a Stripe subscription's status and plan in the catalog's terms."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
