"""The versioning policy of DESIGN.md §3 as one pure function: change + version bump -> verdict.

Kept apart from the diff and from any I/O so every rule (breaking needs a new major file, additive
needs minor, doc-only a patch, unchanged no bump, never down, never reused) is unit-tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nmc.contract.schemas import parse_semver
from nmc.schema_gate.avro import defined_names
from nmc.schema_gate.diff import Change, Impact, required_bump


class Bump(Enum):
    """How a version moved from one schema to the next."""

    DOWN = "down"
    NONE = "none"
    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"


def classify_bump(old: str, new: str) -> Bump:
    """Which component increased first decides the kind; anything lower is DOWN."""
    o, n = parse_semver(old), parse_semver(new)
    if n < o:
        return Bump.DOWN
    if n == o:
        return Bump.NONE
    if n[0] > o[0]:
        return Bump.MAJOR
    if n[1] > o[1]:
        return Bump.MINOR
    return Bump.PATCH


@dataclass(frozen=True)
class Verdict:
    """Whether a change is acceptable, and why (one line each, for humans and CI)."""

    ok: bool
    reasons: tuple[str, ...]


def next_major_hint(full_name: str | None, major: int) -> str:
    """How to publish a breaking change: a new record name in a new file, side by side."""
    if not full_name:
        return f"publish it as major {major + 1}: a new record and file beside this one"
    parts = full_name.split(".")
    if len(parts) >= 4 and parts[-2].startswith("v"):
        event, domain = parts[-1], parts[1]
        new_name = ".".join([*parts[:-2], f"v{major + 1}", event])
        return (
            f"publish it as a major version: new record {new_name} in a new file"
            f" {domain}/{event}.v{major + 1}.avsc beside the v{major} file (new subject)"
        )
    return f"publish it as major {major + 1}: a new record name and file beside this one"


def decide(
    changes: list[Change], old_version: str, new_version: str, full_name: str | None = None
) -> Verdict:
    """Check that the version bump from `old_version` to `new_version` matches `changes`.

    Within one file (one record name, one subject) the major cannot change: breaking changes go
    to a new file. So the allowed bump is exactly: none for no change, patch for doc/attribute
    only changes, minor for compatible additive changes, and breaking changes fail whatever
    the label says.
    """
    needed = required_bump(changes)
    bump = classify_bump(old_version, new_version)
    move = f"{old_version} -> {new_version}"
    major = parse_semver(old_version)[0]
    if bump is Bump.DOWN:
        return Verdict(False, (f"version went down ({move}); versions only ever increase",))
    if needed is Impact.MAJOR:
        breaking = [c.explain() for c in changes if c.impact is Impact.MAJOR]
        label = "unchanged" if bump is Bump.NONE else f"labelled {bump.value}"
        return Verdict(
            False,
            (
                f"breaking change {label} ({move}) — the registry would reject it under"
                f" FULL_TRANSITIVE; {next_major_hint(full_name, major)}",
                *breaking,
            ),
        )
    if bump is Bump.MAJOR:
        return Verdict(
            False,
            (
                f"major bump {move} inside the same record/file: a major version is a new record"
                f" name in a new file ({next_major_hint(full_name, major)})",
            ),
        )
    if needed is Impact.NONE:
        if bump is Bump.NONE:
            return Verdict(True, ("unchanged",))
        return Verdict(False, (f"schema unchanged but version bumped {move}: no bump needed",))
    summary = "; ".join(c.explain() for c in changes if c.impact is not Impact.NONE)
    if bump is Bump.NONE:
        return Verdict(
            False,
            (
                f"version {new_version} reused for different content: a {needed.label} change"
                f" needs a {needed.label} bump ({summary})",
            ),
        )
    if needed is Impact.PATCH:
        if bump is Bump.PATCH:
            return Verdict(True, (f"doc/attribute-only change, patch bump {move}",))
        return Verdict(
            False,
            (f"doc/attribute-only change labelled {bump.value} ({move}): at most a patch bump"
             f" ({summary})",),
        )
    # needed is MINOR
    if bump is Bump.MINOR:
        return Verdict(True, (f"compatible additive change, minor bump {move}",))
    return Verdict(
        False,
        (f"compatible additive change labelled {bump.value} ({move}): needs a minor bump"
         f" ({summary})",),
    )


def decide_new(version: str, major: int) -> Verdict:
    """A subject with no history: it starts at `<major>.0.0`."""
    v = parse_semver(version)
    if v != (major, 0, 0):
        return Verdict(
            False,
            (f"new subject must start at {major}.0.0, found {version}",),
        )
    return Verdict(True, (f"new subject at {version}",))


def namespace_errors(raw: object, namespace: str) -> list[str]:
    """Every named type a file defines must live in the file's `nmc.<domain>.v<major>` namespace.

    A v2 file whose payload record keeps `nmc.<domain>.v1` would put a second, different
    `nmc.<domain>.v1.<Event>Payload` on the same topic: readers generated from either file would
    decode the other's records under the wrong shape.
    """
    errors = []
    for name in sorted(defined_names(raw)):
        own = name.rsplit(".", 1)[0] if "." in name else ""
        if own != namespace:
            errors.append(
                f"named type {name} is defined in namespace {own or '<none>'}; every named type"
                f" of this file must live in {namespace} (two different records of one name on"
                " one topic otherwise)"
            )
    return errors
