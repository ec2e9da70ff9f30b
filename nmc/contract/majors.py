"""One event at two major versions: how a payload of one major becomes the other's (pure).

A breaking change is a new major, `<Event>.v<N>.avsc` (record `nmc.<domain>.v<N>.<Event>`, a
new subject on the same topic). Its file says, in one top-level attribute, how its payload
differs from major N-1, so that writers publishing both majors during a transition window and
readers written for the older major need no code per event — the change is described once,
beside the schema it belongs to, and travels with it into the registry:

```json
"nmc.previous_major": {
  "renamed": {"caller_phone": "from_phone"},   # this major's field -> its name in N-1
  "added":   ["caller_name"],                  # fields new in N (dropped from an N-1 copy)
  "removed": {"provider_ref": "unknown"}       # N-1 fields gone in N -> value an N-1 copy carries
}
```

`to_previous` maps an N payload to N-1 (the writer's older copy; a stream app whose reducers
read N-1); `from_previous` maps N-1 to N, filling added fields with their Avro defaults (a
writer still building N-1 events while N is written too). A change these three cannot express
(a type change, a split field) needs a real migration of consumers, not a window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nmc.contract.errors import FieldError

STEP_ATTRIBUTE = "nmc.previous_major"


class MajorStepError(ValueError):
    """A schema's `nmc.previous_major` is malformed, or a payload cannot cross the step."""


@dataclass(frozen=True)
class MajorStep:
    """How major N's payload differs from major N-1's (see the module docstring)."""

    major: int
    renamed: Mapping[str, str] = field(default_factory=dict)
    added: frozenset[str] = frozenset()
    removed: Mapping[str, Any] = field(default_factory=dict)


def major_step(raw: Mapping[str, Any], major: int) -> MajorStep | None:
    """The step a schema's JSON declares (None for major 1 or when it declares none);
    `MajorStepError` when the attribute is malformed."""
    spec = raw.get(STEP_ATTRIBUTE)
    if spec is None or major <= 1:
        return None
    if not isinstance(spec, Mapping) or set(spec) - {"renamed", "added", "removed"}:
        raise MajorStepError(f"{STEP_ATTRIBUTE} must be an object of renamed/added/removed")
    renamed, added, removed = (spec.get("renamed", {}), spec.get("added", []),
                               spec.get("removed", {}))
    if not (isinstance(renamed, Mapping) and all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in renamed.items())):
        raise MajorStepError(f"{STEP_ATTRIBUTE}.renamed must map field names to field names")
    if not (isinstance(added, list) and all(isinstance(a, str) for a in added)):
        raise MajorStepError(f"{STEP_ATTRIBUTE}.added must be a list of field names")
    if not isinstance(removed, Mapping):
        raise MajorStepError(f"{STEP_ATTRIBUTE}.removed must map field names to values")
    return MajorStep(major, dict(renamed), frozenset(added), dict(removed))


def to_previous(payload: Mapping[str, Any], step: MajorStep) -> dict[str, Any]:
    """Major N's payload as major N-1's: renamed back, added fields dropped, removed fields
    given their declared value."""
    out = {step.renamed.get(k, k): v for k, v in payload.items() if k not in step.added}
    for name, value in step.removed.items():
        out.setdefault(name, value)
    return out


def from_previous(payload: Mapping[str, Any], step: MajorStep,
                  defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Major N-1's payload as major N's; an added field takes its Avro default (`defaults`:
    major N's payload field defaults), `MajorStepError` when it has none."""
    back = {old: new for new, old in step.renamed.items()}
    out = {back.get(k, k): v for k, v in payload.items() if k not in step.removed}
    missing = sorted(a for a in step.added if a not in defaults)
    if missing:
        raise MajorStepError(
            f"major {step.major} adds {', '.join(missing)} without a default: an event of "
            f"major {step.major - 1} cannot be written as major {step.major}")
    for name in step.added:
        out.setdefault(name, defaults[name])
    return out


def convert(payload: Mapping[str, Any], steps: Mapping[int, MajorStep],
            defaults: Mapping[int, Mapping[str, Any]], source: int,
            target: int) -> dict[str, Any]:
    """`payload` of major `source` as major `target`, one step at a time. `steps[n]` is major
    n's step from n-1, `defaults[n]` major n's payload defaults; `MajorStepError` when a step
    is not declared."""
    out = dict(payload)
    major = source
    while major != target:
        n = major if target < major else major + 1
        step = steps.get(n)
        if step is None:
            raise MajorStepError(f"major {n} declares no {STEP_ATTRIBUTE}: no way between "
                                 f"major {n - 1} and {n}")
        if target < major:
            out, major = to_previous(out, step), major - 1
        else:
            out, major = from_previous(out, step, defaults.get(n, {})), major + 1
    return out


def majors_to_write(event_name: str, major: int,
                    dual_publish: Mapping[str, Any],
                    retired: Mapping[str, Any]) -> tuple[list[int], list[FieldError]]:
    """Which majors one writer call writes for an event built at `major` (pure): the event's
    own, or every major `dual_publish` names for the event during its transition window;
    none of `retired` (an error names it when the event's own major is retired)."""
    wanted = sorted({int(m) for m in dual_publish.get(event_name, [major])} | {major})
    gone = {int(m) for m in retired.get(event_name, [])}
    if major in gone:
        return [], [FieldError(
            "schema_version",
            f"{event_name} major {major} is retired (NMC_RETIRED_MAJORS): no new events of "
            "it are written")]
    return [m for m in wanted if m not in gone], []


def payload_defaults(payload_fields: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Field name -> Avro default of the payload fields that have one."""
    return {str(f["name"]): f["default"] for f in payload_fields if "default" in f}
