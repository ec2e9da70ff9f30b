"""A small, explicit model of Avro schemas for comparing two versions of one schema.

fastavro validates schemas but has no schema-resolution (compatibility) checker, and its parsed
form is tuned for encoding. The gate needs to walk two schemas side by side and say *which field*
breaks *which direction*, so it normalises the JSON itself: every named type gets its full name,
references to named types stay references (so recursive types terminate), and every node keeps
its attributes for the doc/attribute-only comparison.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastavro.schema import parse_schema

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})

# Avro schema resolution: a writer value of the key type may be read as any of these reader types.
PROMOTIONS: Mapping[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


class AvroSchemaError(ValueError):
    """The JSON is not an Avro schema fastavro accepts."""


@dataclass
class Names:
    """Named types of one schema by full name (records, enums, fixed)."""

    types: dict[str, dict[str, Any]] = field(default_factory=dict)


def validate(raw: Any) -> None:
    """Reject anything fastavro cannot parse, before the structural walk trusts it."""
    try:
        parse_schema(json.loads(json.dumps(raw)))
    except Exception as exc:
        raise AvroSchemaError(f"invalid Avro schema: {exc}") from exc


def fullname(name: str, namespace: str | None) -> str:
    """Avro's rule: a dotted name is already full; otherwise prefix the enclosing namespace."""
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def normalize(raw: Any) -> tuple[Any, Names]:
    """Return the schema with full names and `{"ref": fullname}` for repeated named types."""
    validate(raw)
    names = Names()
    return _norm(raw, None, names), names


def _norm(node: Any, namespace: str | None, names: Names) -> Any:
    if isinstance(node, str):
        if node in PRIMITIVES:
            return {"type": node}
        full = fullname(node, namespace)
        if full not in names.types and node in names.types:
            full = node
        return {"ref": full}
    if isinstance(node, list):
        return {"type": "union", "branches": [_norm(b, namespace, names) for b in node]}
    if not isinstance(node, Mapping):
        raise AvroSchemaError(f"unexpected schema node {node!r}")
    kind = node.get("type")
    if isinstance(kind, list | Mapping) or (
        isinstance(kind, str) and kind not in PRIMITIVES | NAMED | {"array", "map"}
    ):
        # {"type": <schema>} wrapper, e.g. {"type": "nmc.x.Foo"} or {"type": [..]}
        inner = _norm(kind, namespace, names)
        extra = {k: v for k, v in node.items() if k != "type"}
        if extra and isinstance(inner, dict) and "ref" not in inner:
            inner = {**inner, "attrs": {**inner.get("attrs", {}), **extra}}
        return inner
    if kind in PRIMITIVES:
        out: dict[str, Any] = {"type": kind}
        if "logicalType" in node:
            out["logicalType"] = node["logicalType"]
        attrs = {k: v for k, v in node.items() if k not in ("type", "logicalType")}
        if attrs:
            out["attrs"] = attrs
        return out
    if kind == "array":
        return {"type": "array", "items": _norm(node["items"], namespace, names),
                "attrs": _attrs(node, {"type", "items"})}
    if kind == "map":
        return {"type": "map", "values": _norm(node["values"], namespace, names),
                "attrs": _attrs(node, {"type", "values"})}
    assert isinstance(kind, str)
    full = fullname(node["name"], node.get("namespace", namespace))
    own_ns = full.rsplit(".", 1)[0] if "." in full else None
    aliases = sorted(fullname(a, own_ns) for a in node.get("aliases", []))
    out = {"type": "record" if kind == "error" else kind, "name": full, "aliases": aliases,
           "doc": node.get("doc")}
    names.types[full] = out
    if kind in ("record", "error"):
        out["fields"] = [
            {
                "name": f["name"],
                "type": _norm(f["type"], own_ns, names),
                "has_default": "default" in f,
                "default": f.get("default"),
                "aliases": sorted(f.get("aliases", [])),
                "doc": f.get("doc"),
                "order": f.get("order", "ascending"),
                "attrs": _attrs(f, {"name", "type", "default", "aliases", "doc", "order"}),
            }
            for f in node["fields"]
        ]
        out["attrs"] = _attrs(node, {"type", "name", "namespace", "aliases", "doc", "fields"})
    elif kind == "enum":
        out["symbols"] = list(node["symbols"])
        out["has_default"] = "default" in node
        out["default"] = node.get("default")
        out["attrs"] = _attrs(
            node, {"type", "name", "namespace", "aliases", "doc", "symbols", "default"}
        )
    else:  # fixed
        out["size"] = node["size"]
        out["logicalType"] = node.get("logicalType")
        out["attrs"] = _attrs(node, {"type", "name", "namespace", "aliases", "doc", "size",
                                     "logicalType"})
    return out


def _attrs(node: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    return {k: node[k] for k in sorted(node) if k not in known}


def deref(node: Any, names: Names) -> Any:
    """Follow a `{"ref": ...}` to the named type it points at."""
    if isinstance(node, Mapping) and "ref" in node:
        return names.types[node["ref"]]
    return node


def decimal_of(node: Mapping[str, Any]) -> tuple[int, int] | None:
    """`(precision, scale)` of a decimal (on bytes or fixed), None for anything else.

    The specification: "two schemas that are decimal logical types match if their scales and
    precisions match" (scale defaults to 0).
    """
    if node.get("logicalType") != "decimal":
        return None
    attrs = node.get("attrs", {})
    return int(attrs.get("precision", 0)), int(attrs.get("scale", 0))


def plain_attrs(node: Mapping[str, Any]) -> dict[str, Any]:
    """A node's custom attributes, without the decimal parameters (compared as a type)."""
    attrs: dict[str, Any] = dict(node.get("attrs", {}))
    if decimal_of(node) is not None:
        attrs.pop("precision", None)
        attrs.pop("scale", None)
    return attrs


def describe(node: Any, names: Names) -> str:
    """Short human form of a type for reasons: `long`, `["null", string]`, `nmc.x.Foo`."""
    if "ref" in node:
        return str(node["ref"])
    kind = node["type"]
    if kind == "union":
        return "[" + ", ".join(describe(b, names) for b in node["branches"]) + "]"
    if kind == "array":
        return f"array<{describe(node['items'], names)}>"
    if kind == "map":
        return f"map<{describe(node['values'], names)}>"
    if kind in NAMED:
        return f"{kind} {node['name']}"
    decimal = decimal_of(node)
    if decimal is not None:
        return f"{kind} (decimal({decimal[0]},{decimal[1]}))"
    if node.get("logicalType"):
        return f"{kind} ({node['logicalType']})"
    return str(kind)


def referenced_names(raw: Any) -> set[str]:
    """Full names this schema uses but does not define (for registration order)."""
    defined, used = _names(raw)
    return used - defined


def defined_names(raw: Any) -> set[str]:
    """Full names of the named types this schema defines (no validation: refs may be external)."""
    return _names(raw)[0]


def _names(raw: Any) -> tuple[set[str], set[str]]:
    defined: set[str] = set()
    used: set[str] = set()

    def walk(node: Any, namespace: str | None) -> None:
        if isinstance(node, str):
            if node not in PRIMITIVES:
                used.add(fullname(node, namespace))
            return
        if isinstance(node, list):
            for b in node:
                walk(b, namespace)
            return
        if not isinstance(node, Mapping):
            return
        kind = node.get("type")
        if kind in NAMED:
            full = fullname(node["name"], node.get("namespace", namespace))
            defined.add(full)
            ns = full.rsplit(".", 1)[0] if "." in full else None
            for f in node.get("fields", []):
                walk(f["type"], ns)
        elif kind == "array":
            walk(node["items"], namespace)
        elif kind == "map":
            walk(node["values"], namespace)
        elif kind is not None and kind not in PRIMITIVES:
            walk(kind, namespace)

    walk(raw, None)
    return defined, used
