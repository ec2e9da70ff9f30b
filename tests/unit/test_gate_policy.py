"""The gate's pure logic: structural diff, versioning policy, registration order (no registry)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nmc.contract.schemas import EventSchema, default_catalog
from nmc.schema_gate.compat import full_errors
from nmc.schema_gate.diff import Impact, diff_schemas, required_bump
from nmc.schema_gate.policy import Bump, classify_bump, decide, decide_new, namespace_errors
from nmc.schema_gate.register import CycleError, dependency_order

BASE: dict[str, Any] = {
    "type": "record", "name": "Foo", "namespace": "nmc.x.v1", "doc": "d",
    "fields": [
        {"name": "a", "type": "int", "doc": "a"},
        {"name": "b", "type": "string", "default": "x", "doc": "b"},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
        {"name": "s", "type": "string", "nmc.allowed": ["p", "q"]},
    ],
}


def changed(fn: Any) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    fn(new)
    return new


def kinds(new: dict[str, Any]) -> list[tuple[str, str, Impact]]:
    return [(c.path, c.kind, c.impact) for c in diff_schemas(BASE, new)]


def test_unchanged_has_no_changes() -> None:
    assert diff_schemas(BASE, copy.deepcopy(BASE)) == []


@pytest.mark.parametrize(("fn", "expected"), [
    (lambda s: s["fields"].append({"name": "n", "type": ["null", "int"], "default": None}),
     [("n", "field_added", Impact.MINOR)]),
    (lambda s: s["fields"].append({"name": "n", "type": "int"}),
     [("n", "field_added_without_default", Impact.MAJOR)]),
    (lambda s: s["fields"].pop(1), [("b", "field_removed", Impact.MINOR)]),
    (lambda s: s["fields"].pop(0), [("a", "field_removed_without_default", Impact.MAJOR)]),
    (lambda s: s["fields"][0].__setitem__("type", "long"), [("a", "type_changed", Impact.MAJOR)]),
    (lambda s: s["fields"][1].__setitem__("type", "bytes"), [("b", "type_changed", Impact.MINOR)]),
    (lambda s: s["fields"][0].__setitem__("doc", "new"), [("a", "doc_changed", Impact.PATCH)]),
    (lambda s: s["fields"][2]["type"]["symbols"].append("C"),
     [("e", "enum_symbols_added", Impact.MAJOR)]),
    (lambda s: s["fields"][3]["nmc.allowed"].append("r"),
     [("s", "allowed_values_added", Impact.MINOR)]),
    (lambda s: s["fields"][3]["nmc.allowed"].remove("q"),
     [("s", "allowed_values_removed", Impact.MAJOR)]),
    (lambda s: s["fields"][3].__setitem__("type", ["null", "string"]),
     [("s", "made_nullable", Impact.MAJOR)]),
])
def test_field_level_changes(fn: Any, expected: list[tuple[str, str, Impact]]) -> None:
    assert kinds(changed(fn)) == expected


def test_enum_default_makes_new_symbols_minor() -> None:
    old = changed(lambda s: s["fields"][2]["type"].__setitem__("default", "A"))
    new = copy.deepcopy(old)
    new["fields"][2]["type"]["symbols"].append("C")
    assert required_bump(diff_schemas(old, new)) is Impact.MINOR
    assert full_errors(old, new) == []


def test_int_to_long_is_backward_not_forward() -> None:
    errors = full_errors(BASE, changed(lambda s: s["fields"][0].__setitem__("type", "long")))
    assert errors == ["old readers cannot read new data: a: written as long, read as int"
                      " (no Avro promotion from long to int)"]


# Evolution cases from Apache Avro's compatibility suite the gate used to get wrong (issue #12,
# items 10-12). The expected verdicts follow the specification's "Schema Resolution" (a union
# value resolves to the reader's exactly matching branch, else the first it promotes to;
# decimals match only with equal precision and scale) and what the registry accepts.
EVOLUTION_BASE: dict[str, Any] = {
    "type": "record", "name": "Ev", "namespace": "nmc.x.v1", "doc": "d",
    "fields": [
        {"name": "ns", "type": ["null", "string"], "default": None},
        {"name": "nil", "type": ["null", "int", "long"], "default": None},
        {"name": "nl", "type": ["null", "long"], "default": None},
        {"name": "s", "type": "string"},
        {"name": "one", "type": ["string"]},
        {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9,
                                 "scale": 2}},
        {"name": "fdec", "type": {"type": "fixed", "name": "Money", "size": 8,
                                  "logicalType": "decimal", "precision": 12, "scale": 2}},
    ],
}


def evolved(name: str, key: str, value: Any) -> dict[str, Any]:
    new = copy.deepcopy(EVOLUTION_BASE)
    f = next(f for f in new["fields"] if f["name"] == name)
    if key == "type":
        f["type"] = value
    else:
        f["type"][key] = value
    return new


EVOLUTION: list[tuple[str, dict[str, Any], list[tuple[str, str, Impact]]]] = [
    ("union-string-to-bytes", evolved("ns", "type", ["null", "bytes"]),
     [("ns", "union_branches_promoted", Impact.MINOR)]),
    ("union-int-long-to-long", evolved("nil", "type", ["null", "long"]),
     [("nil", "union_branches_promoted", Impact.MINOR)]),
    ("union-long-to-int-long", evolved("nl", "type", ["null", "int", "long"]),
     [("nl", "union_branches_promoted", Impact.MINOR)]),
    ("union-long-to-int", evolved("nl", "type", ["null", "int"]),
     [("nl", "union_branch_removed", Impact.MAJOR)]),
    ("union-string-to-int", evolved("ns", "type", ["null", "int"]),
     [("ns", "union_branch_added", Impact.MAJOR), ("ns", "union_branch_removed", Impact.MAJOR)]),
    ("union-reordered", evolved("ns", "type", ["string", "null"]),
     [("ns", "union_reordered", Impact.MINOR)]),
    ("singleton-union", evolved("s", "type", ["string"]),
     [("s", "union_wrapping", Impact.MINOR)]),
    ("singleton-union-unwrapped", evolved("one", "type", "string"),
     [("one", "union_wrapping", Impact.MINOR)]),
    ("decimal-scale", evolved("dec", "scale", 3), [("dec", "decimal_changed", Impact.MAJOR)]),
    ("decimal-precision", evolved("dec", "precision", 10),
     [("dec", "decimal_changed", Impact.MAJOR)]),
    ("fixed-decimal-scale", evolved("fdec", "scale", 0),
     [("fdec", "decimal_changed", Impact.MAJOR)]),
    ("decimal-doc-only", evolved("dec", "doc", "money"),
     [("dec", "attribute_changed", Impact.PATCH)]),
]


@pytest.mark.parametrize(("new", "expected"), [c[1:] for c in EVOLUTION],
                         ids=[c[0] for c in EVOLUTION])
def test_evolution_table(new: dict[str, Any], expected: list[tuple[str, str, Impact]]) -> None:
    changes = diff_schemas(EVOLUTION_BASE, new)
    assert [(c.path, c.kind, c.impact) for c in changes] == expected
    # the structural verdict agrees with Avro resolution in both directions
    assert (full_errors(EVOLUTION_BASE, new) == []) == (required_bump(changes) < Impact.MAJOR)


def test_promoted_union_reason_is_true() -> None:
    (change,) = diff_schemas(EVOLUTION_BASE, evolved("ns", "type", ["null", "bytes"]))
    assert change.breaks is None
    assert "readable both ways" in change.detail


def test_decimal_reason_names_both_directions() -> None:
    (change,) = diff_schemas(EVOLUTION_BASE, evolved("dec", "scale", 3))
    assert "(9, 2) -> (9, 3)" in change.detail
    assert full_errors(EVOLUTION_BASE, evolved("dec", "scale", 3))[0].endswith(
        "decimals match only with equal precision and scale (Avro specification, Logical"
        " Types: Decimal)")


@pytest.mark.parametrize(("version", "ok", "reason"), [
    ("1.0.0", False, "1.0.0 reused for different content: a minor change"),
    ("1.0.1", False, "labelled patch"),
    ("1.1.0", True, "minor bump"),
])
def test_canonical_form_change_needs_a_bump(version: str, ok: bool, reason: str) -> None:
    verdict = decide(diff_schemas(EVOLUTION_BASE, evolved("s", "type", ["string"])), "1.0.0",
                     version, "nmc.x.v1.Ev")
    assert verdict.ok is ok
    assert reason in "\n".join(verdict.reasons)


def test_a_named_type_outside_the_files_namespace_is_refused() -> None:
    v2 = copy.deepcopy(EVOLUTION_BASE)
    v2["namespace"] = "nmc.x.v2"
    assert namespace_errors(v2, "nmc.x.v2") == []  # nested types inherit the namespace
    v2["fields"][6]["type"]["namespace"] = "nmc.x.v1"
    (error,) = namespace_errors(v2, "nmc.x.v2")
    assert error.startswith("named type nmc.x.v1.Money is defined in namespace nmc.x.v1")


@pytest.mark.parametrize(("old", "new", "bump"), [
    ("1.0.0", "1.0.0", Bump.NONE), ("1.0.0", "1.0.1", Bump.PATCH), ("1.0.3", "1.1.0", Bump.MINOR),
    ("1.2.0", "2.0.0", Bump.MAJOR), ("1.2.0", "1.1.9", Bump.DOWN),
])
def test_classify_bump(old: str, new: str, bump: Bump) -> None:
    assert classify_bump(old, new) is bump


ADD = diff_schemas(BASE, changed(
    lambda s: s["fields"].append({"name": "n", "type": ["null", "int"], "default": None})))
DOC = diff_schemas(BASE, changed(lambda s: s["fields"][0].__setitem__("doc", "z")))
BREAK = diff_schemas(BASE, changed(lambda s: s["fields"].pop(0)))


@pytest.mark.parametrize(("changes", "old", "new", "ok", "reason"), [
    (ADD, "1.0.0", "1.1.0", True, "minor bump"),
    (ADD, "1.0.0", "1.0.1", False, "labelled patch"),
    (ADD, "1.0.0", "1.0.0", False, "reused for different content"),
    (DOC, "1.0.0", "1.0.1", True, "patch bump"),
    (DOC, "1.0.0", "1.1.0", False, "at most a patch"),
    (BREAK, "1.0.0", "1.1.0", False, "nmc.x.v2.Foo"),
    (BREAK, "1.0.0", "2.0.0", False, "breaking change labelled major"),
    ([], "1.0.0", "1.0.0", True, "unchanged"),
    ([], "1.0.0", "1.0.1", False, "unchanged but version bumped"),
    ([], "1.1.0", "1.0.0", False, "went down"),
])
def test_decide(changes: Any, old: str, new: str, ok: bool, reason: str) -> None:
    verdict = decide(changes, old, new, "nmc.x.v1.Foo")
    assert verdict.ok is ok
    assert reason in "\n".join(verdict.reasons)


def test_new_subject_starts_at_major_zero_zero() -> None:
    assert decide_new("2.0.0", 2).ok
    assert not decide_new("1.1.0", 1).ok


def _schema(name: str, raw: dict[str, Any]) -> EventSchema:
    template = next(iter(default_catalog()))
    return EventSchema(template.path, "x", name, 1, "1.0.0", raw)


def test_dependency_order_puts_definers_first() -> None:
    shared = {"type": "record", "name": "Shared", "namespace": "nmc.x.v1", "fields": []}
    user = {"type": "record", "name": "User", "namespace": "nmc.x.v1",
            "fields": [{"name": "s", "type": "nmc.x.v1.Shared"}]}
    assert dependency_order({"a-user": _schema("User", user),
                             "z-shared": _schema("Shared", shared)}) == ["z-shared", "a-user"]
    loop_a = {"type": "record", "name": "A", "namespace": "n",
              "fields": [{"name": "b", "type": "n.B"}]}
    loop_b = {"type": "record", "name": "B", "namespace": "n",
              "fields": [{"name": "a", "type": "n.A"}]}
    with pytest.raises(CycleError):
        dependency_order({"a": _schema("A", loop_a), "b": _schema("B", loop_b)})
