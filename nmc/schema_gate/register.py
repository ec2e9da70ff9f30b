"""`nmc schemas register`: the explicit registration step (production producers never register).

Order of work per subject: refuse anything the gate refuses, set the subject's compatibility
level first (Apicurio enforces nothing until a rule exists), then register, in dependency order.
Re-running changes nothing and says so.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass

from nmc.contract.schemas import EventSchema
from nmc.schema_gate.avro import defined_names, referenced_names
from nmc.schema_gate.check import REQUIRED_LEVEL, Report
from nmc.schema_gate.registry_api import Registry


class CycleError(ValueError):
    """Schemas reference each other's named types in a cycle; no order can register them."""


def dependency_order(schemas: Mapping[str, EventSchema]) -> list[str]:
    """Subjects sorted so that a schema defining a named type comes before its users.

    Ties are broken by subject name so the order (and the output) is deterministic.
    """
    definer: dict[str, str] = {}
    for subject, schema in schemas.items():
        for name in defined_names(schema.raw):
            definer.setdefault(name, subject)
    deps: dict[str, set[str]] = {s: set() for s in schemas}
    for subject, schema in schemas.items():
        for name in referenced_names(schema.raw):
            if name in definer and definer[name] != subject:
                deps[subject].add(definer[name])
    users: dict[str, set[str]] = {s: set() for s in schemas}
    for subject, needs in deps.items():
        for need in needs:
            users[need].add(subject)
    waiting = {s: len(d) for s, d in deps.items()}
    ready = [s for s, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        subject = heapq.heappop(ready)
        order.append(subject)
        for user in users[subject]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, user)
    if len(order) != len(schemas):
        raise CycleError(f"cyclic references among {sorted(set(schemas) - set(order))}")
    return order


@dataclass(frozen=True)
class Registered:
    subject: str
    level_set: bool
    created: bool
    schema_id: int | None
    version: int | None

    def describe(self) -> str:
        what = []
        if self.level_set:
            what.append(f"compatibility set to {REQUIRED_LEVEL}")
        what.append(
            f"registered as version {self.version} (id {self.schema_id})" if self.created
            else f"unchanged (version {self.version})"
        )
        return ", ".join(what)


def register_checked(report: Report, registry_url: str,
                     level: str = REQUIRED_LEVEL) -> list[Registered]:
    """Register every schema of a report the gate passed; the caller refuses a failed report."""
    if not report.ok:
        raise ValueError("refusing to register: the gate failed")
    done: list[Registered] = []
    with Registry(registry_url) as registry:
        registry.ping()
        for subject in dependency_order(report.schemas):
            raw = report.schemas[subject].raw
            level_set = False
            if registry.own_level(subject) != level:
                registry.set_level(subject, level)
                level_set = True
            version = registry.lookup(subject, raw) if registry.versions(subject) else None
            if version is not None:
                done.append(Registered(subject, level_set, False, None, version))
                continue
            schema_id = registry.register(subject, raw)
            version = registry.lookup(subject, raw)
            done.append(Registered(subject, level_set, True, schema_id, version))
    return done
