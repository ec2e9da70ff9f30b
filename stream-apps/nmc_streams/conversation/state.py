"""Conversation read models derived from one flow's facts (pure, order-independent).

Delivery status is a lattice: queued < sent < delivered < failed, and a message's status is the
maximum over every fact that mentions it, so it never moves backwards, whatever arrives first
(a DeliveryUpdated before its MessageSent included). `failed` is terminal, per the catalog.
Values a later minor version may add are ignored rather than rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nmc_streams.state import Item, apply, items, version

__all__ = ["EVENTS", "Rows", "apply", "derive"]

EVENTS = frozenset(
    {
        "CallDetected",
        "InboundSmsReceived",
        "ConversationStarted",
        "MessageSent",
        "DeliveryUpdated",
        "HumanTakeoverRequested",
    }
)
STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "failed": 3}

Rows = dict[str, list[dict[str, Any]]]


def _primary_conversation(state: Mapping[str, Any]) -> str | None:
    """The flow's first conversation: where facts without a conversation_id belong."""
    started = items(state, "ConversationStarted")
    return started[0][3]["conversation_id"] if started else None


def message_rows(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    tenant, correlation = state["tenant_id"], state["correlation_id"]
    primary = _primary_conversation(state)
    by_message: dict[str, list[Item]] = {}
    for item in items(state, "MessageSent", "DeliveryUpdated", "InboundSmsReceived"):
        by_message.setdefault(item[3]["message_id"], []).append(item)
    rows = []
    for message_id, facts in sorted(by_message.items()):
        direction = None
        conversation_id = None
        from_phone = to_phone = body = provider_ref = error_code = None
        status: str | None = None
        status_at: str | None = None
        for t, _eid, name, p in facts:  # sorted by (time, event_id): deterministic joins
            if name == "MessageSent":
                direction = direction or p["direction"]
                conversation_id = conversation_id or p["conversation_id"]
            elif name == "InboundSmsReceived":
                direction = direction or "in"
                from_phone, to_phone, body = p["from_phone"], p["to_phone"], p["body"]
                provider_ref = provider_ref or p["provider_ref"]
            else:
                provider_ref = p["provider_ref"]
            candidate = "delivered" if name == "InboundSmsReceived" else p.get("status")
            if candidate in STATUS_RANK and (
                status is None or STATUS_RANK[candidate] > STATUS_RANK[status]
            ):
                status, status_at = candidate, t
                if name == "DeliveryUpdated":
                    error_code = p.get("error_code")
        rows.append(
            {
                "tenant_id": tenant,
                "message_id": message_id,
                "conversation_id": conversation_id or primary,
                "correlation_id": correlation,
                "direction": direction,
                "status": status,
                "status_at": status_at,
                "first_seen_at": facts[0][0],
                "from_phone": from_phone,
                "to_phone": to_phone,
                "body": body,
                "provider_ref": provider_ref,
                "error_code": error_code,
                "version": version(state),
            }
        )
    return rows


def derive(state: Mapping[str, Any]) -> Rows:
    """Rows of conv_conversations, conv_messages and conv_missed_calls for one flow."""
    tenant, correlation = state["tenant_id"], state["correlation_id"]
    v = version(state)
    primary = _primary_conversation(state)
    calls = items(state, "CallDetected")
    missed = [
        {
            "tenant_id": tenant,
            "call_id": p["call_id"],
            "correlation_id": correlation,
            "conversation_id": primary,
            "from_phone": p["from_phone"],
            "to_phone": p["to_phone"],
            "reason": p["reason"],
            "provider_ref": p["provider_ref"],
            "occurred_at": t,
            "version": v,
        }
        for t, _e, _n, p in calls
    ]
    missed = list({row["call_id"]: row for row in reversed(missed)}.values())
    messages = message_rows(state)
    conversations: dict[str, dict[str, Any]] = {}
    for t, _e, _n, p in items(state, "ConversationStarted"):
        cid = p["conversation_id"]
        if cid in conversations:
            continue
        conversations[cid] = {
            "tenant_id": tenant,
            "conversation_id": cid,
            "correlation_id": correlation,
            "caller_phone": p["caller_phone"],
            "status": "open",
            "started_at": t,
            "last_activity_at": t,
            "opened_by_call_id": calls[0][3]["call_id"] if calls and cid == primary else None,
            "takeover_user_id": None,
            "takeover_at": None,
            "message_count": 0,
            "version": v,
        }
    for t, _e, _n, p in items(state, "HumanTakeoverRequested"):
        row = conversations.get(p["conversation_id"])
        if row is not None:
            if row["takeover_at"] is None:
                row["takeover_user_id"], row["takeover_at"] = p["user_id"], t
            row["last_activity_at"] = max(row["last_activity_at"], t)
    for msg in messages:
        row = conversations.get(msg["conversation_id"] or "")
        if row is not None:
            row["message_count"] += 1
            row["last_activity_at"] = max(
                row["last_activity_at"], msg["status_at"] or msg["first_seen_at"]
            )
    return {
        "conv_conversations": sorted(conversations.values(), key=lambda r: r["conversation_id"]),
        "conv_messages": messages,
        "conv_missed_calls": sorted(missed, key=lambda r: r["call_id"]),
    }
