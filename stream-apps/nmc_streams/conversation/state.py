"""Conversation read models derived from one flow's facts (pure, order-independent).

Delivery status is a lattice: queued < sent < delivered < failed, and a message's status is the
maximum over every fact that mentions it, so it never moves backwards, whatever arrives first
(a DeliveryUpdated before its MessageSent included). `failed` is terminal, per the catalog.
Values a later minor version may add are ignored rather than rejected. `last_activity_at` is
the latest event time of anything in the conversation (its start, takeovers, every fact of its
messages): a maximum over a growing set, so it can be kept incrementally in any order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nmc_streams.state import Item, items, version

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


MESSAGE_EVENTS = frozenset({"MessageSent", "DeliveryUpdated", "InboundSmsReceived"})


def message_row(
    tenant: str, correlation: str, message_id: str, facts: list[Item], primary: str | None
) -> dict[str, Any]:
    """The conv_messages row of one message from its facts (sorted by time, event_id); a
    message without a MessageSent belongs to the flow's first conversation (`primary`)."""
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
    return {
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
    }


def primary_conversation(state: Mapping[str, Any]) -> str | None:
    """The flow's first conversation: where facts without a conversation_id belong."""
    started = items(state, "ConversationStarted")
    return started[0][3]["conversation_id"] if started else None


def missed_call_rows(state: Mapping[str, Any], primary: str | None) -> list[dict[str, Any]]:
    """conv_missed_calls rows of a flow's CallDetected facts (first fact per call wins)."""
    tenant, correlation = state["tenant_id"], state["correlation_id"]
    rows: dict[str, dict[str, Any]] = {}
    for t, _e, _n, p in items(state, "CallDetected"):
        rows.setdefault(
            p["call_id"],
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
                "version": version(state),
            },
        )
    return [rows[k] for k in sorted(rows)]


def conversation_rows(
    state: Mapping[str, Any], counters: Mapping[str, list[Any]], row_version: int
) -> list[dict[str, Any]]:
    """conv_conversations rows of a flow; `counters` maps conversation_id to
    [message count, latest event time of its messages], kept incrementally by the model."""
    tenant, correlation = state["tenant_id"], state["correlation_id"]
    primary = primary_conversation(state)
    calls = items(state, "CallDetected")
    conversations: dict[str, dict[str, Any]] = {}
    for t, _e, _n, p in items(state, "ConversationStarted"):
        cid = p["conversation_id"]
        if cid in conversations:
            continue
        count, last = counters.get(cid, (0, t))
        conversations[cid] = {
            "tenant_id": tenant,
            "conversation_id": cid,
            "correlation_id": correlation,
            "caller_phone": p["caller_phone"],
            "status": "open",
            "started_at": t,
            "last_activity_at": max(t, last),
            "opened_by_call_id": calls[0][3]["call_id"] if calls and cid == primary else None,
            "takeover_user_id": None,
            "takeover_at": None,
            "message_count": count,
            "version": row_version,
        }
    for t, _e, _n, p in items(state, "HumanTakeoverRequested"):
        row = conversations.get(p["conversation_id"])
        if row is not None:
            if row["takeover_at"] is None:
                row["takeover_user_id"], row["takeover_at"] = p["user_id"], t
            row["last_activity_at"] = max(row["last_activity_at"], t)
    return [conversations[k] for k in sorted(conversations)]
