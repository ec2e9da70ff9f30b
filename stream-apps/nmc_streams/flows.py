"""How each app turns a batch of facts into entity states and read-model rows (pure).

`plan_key` applies one record key's new facts to copies of the entities they touch and asks the
app's `FlowModel` for the rows of exactly those entities, so the work per event is bounded by
the size of its entity (a message: a handful of facts; a flow's flow-wide facts: a few calls,
starts, holds), never by the length of the conversation. No Faust, Kafka or database import:
the runtime loads and writes, this module decides. Each app's `FlowModel` is part of its
definition (`nmc_streams.<app>.app`).

Row versions are entity sizes (distinct facts), so they only grow and are the same whatever
the arrival order; the upserts keep a row with a greater version (DESIGN.md §4: a stale
worker that lost its partition cannot overwrite a newer projection).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nmc.contract.facts import Fact
from nmc_streams.state import FLOW, Entity

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


def extend_rows(rows: Rows, more: Mapping[str, list[dict[str, Any]]]) -> None:
    """Append `more`'s rows to `rows`, table by table."""
    for table, table_rows in more.items():
        rows.setdefault(table, []).extend(table_rows)


PAYLOAD_MAJOR = 1
"""The major of the payloads the reducers read. Records of the next major (published side by
side in a transition window, or alone after it) are carried back to it by the decoder, through
the step their schema declares (`nmc.contract.majors`); moving the reducers to a new major is
a change of this constant and of the reducers together."""


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
