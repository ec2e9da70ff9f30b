"""The state every stream app keeps: per record key, small *entities*, each a set of facts.

Why sets of facts: set union is idempotent, commutative and associative, so any interleaving of
the same events, with any duplicates, reduces to the same state (a G-Set CRDT), and the set is
the exact dedupe record. Why split a flow (`tenant:correlation`) into entities: a conversation of
2,000 messages must not cost more per event than one of two, so each message's facts live in
their own entity (`m:<message_id>`, a handful of facts) and only the flow-wide facts (calls,
conversation starts, takeovers, scheduling, billing ...) live in the `flow` entity. An event
touches its own entity and the flow's small summary; rows are derived from those alone.

Each entity also carries `meta`: app bookkeeping derived from its facts (a message's
contribution to its conversation's counters, the flow's event count), kept beside the facts so
that counters stay exact without re-reading every message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nmc.contract.facts import Fact

FLOW = "flow"
"""The entity holding a flow's flow-wide facts and its summary."""

Facts = dict[str, dict[str, Any]]
"""``{event_id: {"n": name, "t": occurred_at, "p": payload}}``"""

State = dict[str, Any]
"""A view the pure `derive` functions read: ``{"tenant_id", "correlation_id", "facts"}``."""


@dataclass
class Entity:
    """One entity's facts and bookkeeping; `version` grows with every distinct fact."""

    facts: Facts = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return len(self.facts)

    def add(self, fact: Fact) -> bool:
        """Add `fact`; False when it was already there (a duplicate)."""
        if fact.event_id in self.facts:
            return False
        self.facts[fact.event_id] = fact.to_json()
        return True

    def to_json(self) -> dict[str, Any]:
        return {"f": self.facts, "m": self.meta}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Entity:
        if not data:
            return cls()
        return cls(dict(data.get("f") or {}), dict(data.get("m") or {}))

    def copy(self) -> Entity:
        return Entity(dict(self.facts), {k: _copy(v) for k, v in self.meta.items()})


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def split_key(key: str) -> tuple[str, str]:
    """`tenant:correlation` -> (tenant_id, correlation_id)."""
    tenant, _, correlation = key.partition(":")
    return tenant, correlation


def view(key: str, *entities: Entity) -> State:
    """The union of some entities' facts, in the shape the `derive` functions read."""
    tenant, correlation = split_key(key)
    facts: Facts = {}
    for entity in entities:
        facts.update(entity.facts)
    return {"tenant_id": tenant, "correlation_id": correlation, "facts": facts}


def empty(tenant_id: str, correlation_id: str) -> State:
    return {"tenant_id": tenant_id, "correlation_id": correlation_id, "facts": {}}


def apply(state: Mapping[str, Any] | None, fact: Fact) -> State:
    """Add `fact` to a whole-flow view; the input is not mutated."""
    base: State = (
        empty(fact.tenant_id, fact.correlation_id)
        if state is None
        else {**state, "facts": dict(state["facts"])}
    )
    base["facts"].setdefault(fact.event_id, fact.to_json())
    return base


def reduce(facts: Iterable[Fact], state: Mapping[str, Any] | None = None) -> State | None:
    current: State | None = dict(state) if state is not None else None
    for fact in facts:
        current = apply(current, fact)
    return current


Item = tuple[str, str, str, dict[str, Any]]
"""(occurred_at, event_id, name, payload): sortable view of one fact."""


def items(state: Mapping[str, Any], *names: str) -> list[Item]:
    """Facts of the given names, sorted by event time then event_id (a total order)."""
    out = [
        (f["t"], eid, f["n"], f["p"])
        for eid, f in state["facts"].items()
        if not names or f["n"] in names
    ]
    out.sort()
    return out


def version(state: Mapping[str, Any]) -> int:
    """How many distinct facts a view holds; grows monotonically, guards stale upserts."""
    return len(state["facts"])
