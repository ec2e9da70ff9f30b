"""The conversation app: conversations, messages, takeovers and missed calls.

Its definition in one place (`APP`): the topics it reads, the events it handles
(`state.EVENTS`, beside the reducers that read them), its read-model tables and its
`FlowModel`. The rows themselves are derived by the pure functions of `state.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Integer, Text

from nmc.contract.facts import Fact
from nmc_streams.conversation import state as conversation
from nmc_streams.flows import Rows
from nmc_streams.read_model import read_model, ts_column, uuid_column
from nmc_streams.state import FLOW, Entity, items, view
from nmc_streams.stream_app import StreamApp

conv_conversations = read_model(
    "conv_conversations",
    uuid_column("tenant_id", True),
    uuid_column("conversation_id", True),
    uuid_column("correlation_id"),
    Column("caller_phone", Text, nullable=False),
    Column("status", Text, nullable=False),
    ts_column("started_at", nullable=False),
    ts_column("last_activity_at", nullable=False),
    uuid_column("opened_by_call_id", nullable=True),
    uuid_column("takeover_user_id", nullable=True),
    ts_column("takeover_at"),
    Column("message_count", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    upsert="versioned",
)
conv_messages = read_model(
    "conv_messages",
    uuid_column("tenant_id", True),
    uuid_column("message_id", True),
    uuid_column("conversation_id", nullable=True),
    uuid_column("correlation_id"),
    Column("direction", Text),
    Column("status", Text),
    ts_column("status_at"),
    ts_column("first_seen_at", nullable=False),
    Column("from_phone", Text),
    Column("to_phone", Text),
    Column("body", Text),
    Column("provider_ref", Text),
    Column("error_code", Text),
    Column("version", Integer, nullable=False),
    upsert="versioned",
)
conv_missed_calls = read_model(
    "conv_missed_calls",
    uuid_column("tenant_id", True),
    uuid_column("call_id", True),
    uuid_column("correlation_id"),
    uuid_column("conversation_id", nullable=True),
    Column("from_phone", Text, nullable=False),
    Column("to_phone", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("provider_ref", Text, nullable=False),
    ts_column("occurred_at", nullable=False),
    Column("version", Integer, nullable=False),
    upsert="versioned",
)


class ConversationModel:
    """Messages are entities of their own; conversations keep their counters in the flow.

    A message contributes (its conversation, its latest fact time) to that conversation's
    [message_count, last activity]; the contribution is remembered in the message's `meta`
    so a changed contribution moves the counters exactly once. Messages known only through
    delivery or inbound facts (no MessageSent yet) are listed as `orphans` in the flow: they
    belong to the flow's first conversation, so they are re-derived when that changes.
    """

    events = conversation.EVENTS

    def entity_of(self, fact: Fact) -> str:
        if fact.name in conversation.MESSAGE_EVENTS:
            return f"m:{fact.payload['message_id']}"
        return FLOW

    def extra_entities(self, flow: Entity, new: Sequence[Fact]) -> set[str]:
        if any(f.name == "ConversationStarted" for f in new):
            return set(flow.meta.get("orphans", []))
        return set()

    def derive(self, key: str, entities: Mapping[str, Entity], touched: set[str]) -> Rows:
        flow = entities[FLOW]
        flow_view = view(key, flow)
        tenant, correlation = flow_view["tenant_id"], flow_view["correlation_id"]
        primary = conversation.primary_conversation(flow_view)
        messages = {e for e in touched if e != FLOW}
        if primary != flow.meta.get("primary"):
            messages |= {e for e in flow.meta.get("orphans", []) if e in entities}
            flow.meta["primary"] = primary
        counters: dict[str, list[Any]] = flow.meta.setdefault("counters", {})
        orphans = set(flow.meta.get("orphans", []))
        rows: Rows = {}
        for entity_id in sorted(messages):
            entity = entities[entity_id]
            facts = items(view(key, entity))
            row = conversation.message_row(tenant, correlation, entity_id[2:], facts, primary)
            row["version"] = entity.version
            rows.setdefault("conv_messages", []).append(row)
            if any(name == "MessageSent" for _t, _e, name, _p in facts):
                orphans.discard(entity_id)
            else:
                orphans.add(entity_id)
            contribution = [row["conversation_id"], facts[-1][0]]  # sorted: latest time last
            old = entity.meta.get("contribution")
            if old != contribution:
                if old and old[0] in counters:
                    counters[old[0]][0] -= 1
                if contribution[0]:
                    counter = counters.setdefault(contribution[0], [0, contribution[1]])
                    counter[0] += 1
                    counter[1] = max(counter[1], contribution[1])
                entity.meta["contribution"] = contribution
        flow.meta["orphans"] = sorted(orphans)
        rows["conv_conversations"] = conversation.conversation_rows(
            flow_view, counters, int(flow.meta.get("events", 0))
        )
        if FLOW in touched:
            rows["conv_missed_calls"] = conversation.missed_call_rows(flow_view, primary)
        return rows


APP = StreamApp(
    name="conversation",
    summary="Conversations, messages, takeovers and missed calls.",
    domains=("telephony", "conversation"),
    model=ConversationModel(),
    tables=(conv_conversations, conv_messages, conv_missed_calls),
)
