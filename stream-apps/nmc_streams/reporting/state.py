"""Reporting facts derived from one flow's facts (pure, order-independent, replay-safe).

Counters are never incremented. Each countable thing becomes one row keyed by
(tenant, metric, entity id) carrying its UTC day (from event time) and a dimension (a reason,
a direction, a delivery outcome); the daily report is a GROUP BY over those rows. Replays and
duplicates upsert the same row, so nothing is counted twice. Message and delivery rows come
from one message's facts alone; every other row from the flow-wide facts of its flow.

Metrics: missed_call (call_id, reason), converted_call (call_id: its flow has a booking),
conversation_started (conversation_id), message (message_id, in|out),
delivery (message_id, delivered|failed), hold (hold_id), booking (appointment_id),
release (hold_id), cancellation (appointment_id, reason), catalog_change (event_id).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nmc_streams.scheduling.state import derive as derive_scheduling
from nmc_streams.state import items, version

EVENTS = frozenset(
    {
        "CallDetected",
        "InboundSmsReceived",
        "ConversationStarted",
        "MessageSent",
        "DeliveryUpdated",
        "HumanTakeoverRequested",
        "CatalogUpdated",
        "AppointmentHeld",
        "AppointmentBooked",
        "AppointmentReleased",
        "AppointmentCancelled",
        "ComplianceStatusChanged",
        "SubscriptionUpdated",
    }
)


def _fact_row(
    tenant: str, correlation: str, metric: str, entity: str, at: str, dimension: str, v: int
) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "metric": metric,
        "entity_id": entity,
        "day": at[:10],
        "dimension": dimension,
        "correlation_id": correlation,
        "version": v,
    }


def message_fact_rows(message: Mapping[str, Any], v: int) -> list[dict[str, Any]]:
    """The message and delivery rows of one conv_messages-shaped row (see `message_row`)."""
    tenant, correlation = message["tenant_id"], message["correlation_id"]
    rows = []
    if message["direction"] in ("in", "out"):
        rows.append(
            _fact_row(tenant, correlation, "message", message["message_id"],
                      message["first_seen_at"], message["direction"], v)
        )
    if message["status"] in ("delivered", "failed") and message["direction"] != "in":
        # an outcome row is re-derived when delivered later turns failed: upsert replaces
        rows.append(
            _fact_row(tenant, correlation, "delivery", message["message_id"],
                      message["status_at"], message["status"], v)
        )
    return rows


def flow_rows(state: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Rows of rpt_facts (all but messages), rpt_compliance, rpt_subscriptions and
    rpt_catalog_changes from a flow's flow-wide facts."""
    tenant, correlation = state["tenant_id"], state["correlation_id"]
    v = version(state)
    facts: dict[tuple[str, str], dict[str, Any]] = {}

    def add(metric: str, entity: str, at: str | None, dimension: str = "") -> None:
        if at is None or (metric, entity) in facts:
            return
        facts[(metric, entity)] = _fact_row(tenant, correlation, metric, entity, at, dimension, v)

    sched = derive_scheduling(state)
    booked = any(a["booked_at"] for a in sched["sched_appointments"])
    for t, _e, _n, p in items(state, "CallDetected"):
        add("missed_call", p["call_id"], t, p["reason"])
        if booked:
            add("converted_call", p["call_id"], t, p["reason"])
    for t, _e, _n, p in items(state, "ConversationStarted"):
        add("conversation_started", p["conversation_id"], t)
    for hold in sched["sched_holds"]:
        add("hold", hold["hold_id"], hold["held_at"])
        add("release", hold["hold_id"], hold["released_at"])
    for appt in sched["sched_appointments"]:
        add("booking", appt["appointment_id"], appt["booked_at"])
        add("cancellation", appt["appointment_id"], appt["cancelled_at"], appt["cancelled_reason"])
    catalog = []
    for t, eid, _n, p in items(state, "CatalogUpdated"):
        add("catalog_change", eid, t, "full" if p["full_refresh"] else "partial")
        catalog.append(
            {
                "tenant_id": tenant,
                "event_id": eid,
                "correlation_id": correlation,
                "occurred_at": t,
                "updated_item_ids": sorted(p["updated_item_ids"]),
                "full_refresh": bool(p["full_refresh"]),
            }
        )
    compliance: dict[str, dict[str, Any]] = {}
    for t, eid, _n, p in items(state, "ComplianceStatusChanged"):  # latest wins (sorted)
        compliance[p["campaign_id"]] = {
            "tenant_id": tenant,
            "campaign_id": p["campaign_id"],
            "status": p["status"],
            "changed_at": t,
            "event_id": eid,
        }
    subscriptions: dict[str, dict[str, Any]] = {}
    for t, eid, _n, p in items(state, "SubscriptionUpdated"):
        subscriptions[tenant] = {
            "tenant_id": tenant,
            "status": p["status"],
            "plan": p["plan"],
            "stripe_customer_id": p["stripe_customer_id"],
            "stripe_subscription_id": p["stripe_subscription_id"],
            "current_period_end": p["current_period_end"],
            "changed_at": t,
            "event_id": eid,
        }
    return {
        "rpt_facts": [facts[k] for k in sorted(facts)],
        "rpt_compliance": list(compliance.values()),
        "rpt_subscriptions": list(subscriptions.values()),
        "rpt_catalog_changes": catalog,
    }
