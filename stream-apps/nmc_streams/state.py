"""The per-key state every stream app keeps: a grow-only set of facts keyed by event_id.

Why a set of facts rather than a mutable aggregate: set union is idempotent, commutative and
associative, so any interleaving of the same events, with any duplicates, reduces to the same
state (a G-Set CRDT). Each app then *derives* its read-model rows from that set with pure
functions that join values on lattices (status ranks, earliest/latest by event time with
event_id as tie-break), so the derived rows are order-independent too. The set also is the
durable dedupe record: it lives in a changelog-backed Faust table, so "already processed"
survives restarts. A key is one conversation flow (`tenant:correlation`), so sets stay small.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nmc_streams.events import Fact

State = dict[str, Any]
"""``{"tenant_id": str, "correlation_id": str, "facts": {event_id: {"n", "t", "p"}}}``"""


def empty(tenant_id: str, correlation_id: str) -> State:
    return {"tenant_id": tenant_id, "correlation_id": correlation_id, "facts": {}}


def seen(state: Mapping[str, Any] | None, event_id: str) -> bool:
    return state is not None and event_id in state["facts"]


def apply(state: Mapping[str, Any] | None, fact: Fact) -> State:
    """Add `fact`; the input is not mutated, a duplicate returns an equal state."""
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
    """How many distinct events built this state; grows monotonically, guards stale upserts."""
    return len(state["facts"])
