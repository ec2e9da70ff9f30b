"""How each app turns a batch of facts into entity states and read-model rows (pure).

`plan_key` applies one record key's new facts to copies of the entities they touch and asks the
app's `FlowModel` for the rows of exactly those entities, so the work per event is bounded by
the size of its entity (a message: a handful of facts; a flow's flow-wide facts: a few calls,
starts, holds), never by the length of the conversation. No Faust, Kafka or database import:
the runtime loads and writes, this module decides.

Row versions are entity sizes (distinct facts), so they only grow and are the same whatever
the arrival order; the upserts keep a row with a greater version (DESIGN.md §4: a stale
worker that lost its partition cannot overwrite a newer projection).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nmc.contract.facts import Fact
from nmc_streams.conversation import state as conversation
from nmc_streams.reporting import state as reporting
from nmc_streams.scheduling import state as scheduling
from nmc_streams.state import FLOW, Entity, items, split_key, view

Rows = dict[str, list[dict[str, Any]]]


class FlowModel(Protocol):
    """What distinguishes one app's state and rows."""

    events: frozenset[str]

    def entity_of(self, fact: Fact) -> str:
        """The entity a fact belongs to (`FLOW` or an entity of its own)."""

    def extra_entities(self, flow: Entity, new: Sequence[Fact]) -> set[str]:
        """Entities to load beyond those the new facts belong to."""

    def derive(self, key: str, entities: Mapping[str, Entity], touched: set[str]) -> Rows:
        """Rows of the touched entities; may update `meta` of loaded entities."""


def _extend(rows: Rows, more: Mapping[str, list[dict[str, Any]]]) -> None:
    for table, table_rows in more.items():
        rows.setdefault(table, []).extend(table_rows)


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


class SchedulingModel:
    """A flow's scheduling facts are few (holds and bookings of one conversation): one entity,
    all of its rows re-derived when it changes."""

    events = scheduling.EVENTS

    def entity_of(self, fact: Fact) -> str:
        return FLOW

    def extra_entities(self, flow: Entity, new: Sequence[Fact]) -> set[str]:
        return set()

    def derive(self, key: str, entities: Mapping[str, Entity], touched: set[str]) -> Rows:
        return scheduling.derive(view(key, entities[FLOW]))


class ReportingModel:
    """Message and delivery counts come from a message's own entity; everything else from
    the flow's flow-wide facts (conversion joins its calls with its bookings)."""

    events = reporting.EVENTS

    def entity_of(self, fact: Fact) -> str:
        if fact.name in conversation.MESSAGE_EVENTS:
            return f"m:{fact.payload['message_id']}"
        return FLOW

    def extra_entities(self, flow: Entity, new: Sequence[Fact]) -> set[str]:
        return set()

    def derive(self, key: str, entities: Mapping[str, Entity], touched: set[str]) -> Rows:
        rows: Rows = {}
        for entity_id in sorted(touched - {FLOW}):
            entity = entities[entity_id]
            facts = items(view(key, entity))
            tenant, correlation = split_key(key)
            message = conversation.message_row(tenant, correlation, entity_id[2:], facts, None)
            _extend(rows, {"rpt_facts": reporting.message_fact_rows(message, entity.version)})
        if FLOW in touched:
            _extend(rows, reporting.flow_rows(view(key, entities[FLOW])))
        return rows


PAYLOAD_MAJOR = 1
"""The major of the payloads the reducers read. Records of the next major (published side by
side in a transition window, or alone after it) are carried back to it by the decoder, through
the step their schema declares (`nmc.contract.majors`); moving the reducers to a new major is
a change of this constant and of the reducers together."""

MODELS: dict[str, FlowModel] = {
    "conversation": ConversationModel(),
    "scheduling": SchedulingModel(),
    "reporting": ReportingModel(),
}


@dataclass
class KeyPlan:
    """What one key's facts change: entity states to write, rows to upsert, and which facts
    were new (`applied`) or already known (`duplicates`)."""

    key: str
    entities: dict[str, Entity] = field(default_factory=dict)
    rows: Rows = field(default_factory=dict)
    applied: list[Fact] = field(default_factory=list)
    duplicates: list[Fact] = field(default_factory=list)


def needed(model: FlowModel, facts: Iterable[Fact]) -> set[tuple[str, str]]:
    """(key, entity) pairs to load before planning these facts."""
    out: set[tuple[str, str]] = set()
    for fact in facts:
        out.add((fact.key, FLOW))
        out.add((fact.key, model.entity_of(fact)))
    return out


def plan_key(
    model: FlowModel, key: str, facts: Sequence[Fact], loaded: Mapping[str, Entity]
) -> KeyPlan:
    """Apply `facts` (all of `key`) to copies of the `loaded` entities; pure, raises
    (KeyError, TypeError, ValueError) when the model cannot handle a fact."""
    plan = KeyPlan(key)
    entities = {name: entity.copy() for name, entity in loaded.items()}
    flow = entities.setdefault(FLOW, Entity())
    touched: set[str] = set()
    for fact in facts:
        name = model.entity_of(fact)
        entity = entities.setdefault(name, Entity())
        if entity.add(fact):
            touched.add(name)
            plan.applied.append(fact)
        else:
            plan.duplicates.append(fact)
    if not touched:
        return plan
    flow.meta["events"] = int(flow.meta.get("events", 0)) + len(plan.applied)
    # derive may update the bookkeeping of an entity whose facts were all duplicates: only
    # those need a snapshot to tell whether they changed (touched ones and the flow are written)
    before = {
        name: entity.copy().to_json()
        for name, entity in entities.items()
        if name not in touched and name != FLOW
    }
    plan.rows = model.derive(key, entities, touched)
    plan.entities = {
        name: entity
        for name, entity in entities.items()
        if name not in before or entity.to_json() != before[name]
    }
    return plan


def state_version(entity: Entity) -> int:
    """The guard of an entity's stored state: grows with each applied fact of its key (flow)
    or of itself; equal when only bookkeeping was re-derived."""
    return entity.version + int(entity.meta.get("events", 0))
