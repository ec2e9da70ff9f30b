"""`POST /stripe/webhook`: subscription changes (`producers.billing.stripe_events`)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from producers.billing.stripe_events import record_subscription_change
from producers.edges import stripe_input
from producers.edges.deps import EdgeDep, now
from producers.outcomes import OUTCOME_HEADER, HookResult

log = logging.getLogger(__name__)
router = APIRouter()


@router.post("/stripe/webhook")
async def stripe_webhook(request: Request, edge: EdgeDep) -> JSONResponse:
    payload = await request.body()
    settings = edge.settings
    stripe_input.verify_stripe(payload, request.headers.get("stripe-signature"),
                               edge.stripe_secret, settings.stripe_tolerance_s)
    change = stripe_input.read_subscription_event(payload)  # bounded before any transaction
    result = change if isinstance(change, HookResult) else await edge.transaction_async(
        lambda s: record_subscription_change(s, edge.writer, change, settings.price_plans,
                                             now()))
    log.info("stripe: %s (%s)", result.outcome, result.detail)
    return JSONResponse({"received": True, "outcome": result.outcome},
                        headers={OUTCOME_HEADER: result.outcome})
