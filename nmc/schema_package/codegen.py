"""Frozen dataclasses for every event and major, generated from the `.avsc` files (pure).

One class per event record (`CallDetectedV1`) and per nested record (`CallDetectedV1Payload`),
with `from_dict` that takes what an Avro deserializer returns (fastavro gives UUID and datetime
for the logical types) or the catalog's JSON form (strings), and ignores fields it does not know:
a model generated from 1.0.0 reads 1.1.0 data (FULL_TRANSITIVE within a major). Closed value sets
stay `str` (a later minor may add a value); the allowed values are in each field's docstring.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Mapping
from typing import Any

from nmc.contract.schemas import EventSchema, SchemaCatalog

HEADER = '''"""Typed models of the NeverMissCall events, one frozen dataclass per event and major.

Generated from schemas-avro/ by `nmc schemas codegen`; do not edit (CI fails when it is stale).
Use `from_dict(value)` on what your Avro deserializer returns; it picks the class by
`event_name` and the major of `schema_version`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

T = TypeVar("T")


def _opt(convert: Callable[[Any], T], value: Any) -> T | None:
    return None if value is None else convert(value)


def _list(convert: Callable[[Any], T], value: Any) -> list[T]:
    return [convert(v) for v in value]


def _map(convert: Callable[[Any], T], value: Any) -> dict[str, T]:
    return {str(k): convert(v) for k, v in value.items()}


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _ts(value: Any) -> datetime:
    """timestamp-millis: a datetime (Avro decoders), epoch millis, or RFC3339 text."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
'''

_PRIMITIVE = {"string": "str", "boolean": "bool", "int": "int", "long": "int",
              "float": "float", "double": "float", "bytes": "bytes", "null": "None"}


class UnsupportedSchema(ValueError):
    """A construct the generator does not map (enums, fixed, multi-type unions)."""


def class_name(schema: EventSchema) -> str:
    return f"{schema.event}V{schema.major}"


def _ident(name: str) -> str:
    return f"{name}_" if keyword.iskeyword(name) else name


def _doc(text: str | None, indent: str) -> list[str]:
    if not text:
        return []
    clean = " ".join(text.split()).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return [f'{indent}"""{clean}"""']


class _Gen:
    def __init__(self) -> None:
        self.blocks: list[str] = []

    def annotation(self, node: Any, owner: str, field: str) -> str:
        """Python type of an Avro type; nested records become their own class."""
        if isinstance(node, str):
            if node in _PRIMITIVE:
                return _PRIMITIVE[node]
            raise UnsupportedSchema(f"named type reference {node!r}")
        if isinstance(node, list):
            others = [b for b in node if b != "null"]
            if len(others) != 1:
                raise UnsupportedSchema(f"union {node!r}: only [\"null\", T] is mapped")
            inner = self.annotation(others[0], owner, field)
            return f"{inner} | None" if "null" in node else inner
        kind = node["type"]
        logical = node.get("logicalType")
        if kind == "string" and logical == "uuid":
            return "UUID"
        if kind == "long" and logical == "timestamp-millis":
            return "datetime"
        if kind in _PRIMITIVE:
            return _PRIMITIVE[kind]
        if kind == "array":
            return f"list[{self.annotation(node['items'], owner, field)}]"
        if kind == "map":
            return f"dict[str, {self.annotation(node['values'], owner, field)}]"
        if kind == "record":
            name = self.record_name(owner, node)
            self.record(name, node)
            return name
        raise UnsupportedSchema(f"{kind} at {owner}.{field}")

    @staticmethod
    def record_name(owner: str, node: Mapping[str, Any]) -> str:
        """`CallDetectedPayload` inside `CallDetectedV1` -> `CallDetectedV1Payload`."""
        event = owner.rsplit("V", 1)[0]
        suffix = str(node["name"]).removeprefix(event)
        return f"{owner}{suffix or node['name']}"

    def converter(self, node: Any) -> str:
        """A callable expression turning one decoded value into the annotated Python type."""
        if isinstance(node, str):
            return {"string": "str", "boolean": "bool", "int": "int", "long": "int",
                    "float": "float", "double": "float", "bytes": "bytes"}[node]
        if isinstance(node, list):
            inner = self.converter(next(b for b in node if b != "null"))
            return f"lambda v: _opt({inner}, v)" if "null" in node else inner
        kind, logical = node["type"], node.get("logicalType")
        if kind == "string" and logical == "uuid":
            return "_uuid"
        if kind == "long" and logical == "timestamp-millis":
            return "_ts"
        if kind in _PRIMITIVE:
            return self.converter(kind)
        if kind == "array":
            return f"lambda v: _list({self.converter(node['items'])}, v)"
        if kind == "map":
            return f"lambda v: _map({self.converter(node['values'])}, v)"
        raise UnsupportedSchema(kind)  # records are converted by the caller

    def convert(self, node: Any, expr: str) -> str:
        """Expression converting `expr` (avoids a lambda at the top level)."""
        if isinstance(node, list) and "null" in node:
            return f"_opt({self.converter(next(b for b in node if b != 'null'))}, {expr})"
        if isinstance(node, Mapping) and node.get("type") in ("array", "map"):
            helper = "_list" if node["type"] == "array" else "_map"
            inner = node["items"] if node["type"] == "array" else node["values"]
            return f"{helper}({self.converter(inner)}, {expr})"
        return f"{self.converter(node)}({expr})"

    def record(self, name: str, node: Mapping[str, Any],
               schema: EventSchema | None = None) -> None:
        lines = ["@dataclass(frozen=True, slots=True, kw_only=True)", f"class {name}:"]
        lines += _doc(node.get("doc"), "    ") or [f'    """{node["name"]}."""']
        if schema is not None:
            lines += [
                "",
                f'    EVENT_NAME: ClassVar[str] = "{schema.event_name}"',
                f"    MAJOR: ClassVar[int] = {schema.major}",
                f'    SCHEMA_VERSION: ClassVar[str] = "{schema.version}"',
                f'    TOPIC: ClassVar[str] = "{schema.topic}"',
                f'    RECORD: ClassVar[str] = "{schema.full_name}"',
            ]
        assigns = []
        for f in node["fields"]:
            ident = _ident(f["name"])
            ftype = f["type"]
            annotation = self.annotation(ftype, name, f["name"])
            nested = isinstance(ftype, Mapping) and ftype.get("type") == "record"
            default = ""
            if "default" in f:
                value = f["default"]
                default = (f" = {value!r}" if isinstance(value, str | int | float | bool)
                           or value is None else "")
            lines.append("")
            lines.append(f"    {ident}: {annotation}{default}")
            doc = f.get("doc") or ""
            allowed = f.get("nmc.allowed")
            if allowed:
                doc += f" Allowed values (a later minor may add more): {', '.join(allowed)}."
            lines += _doc(doc, "    ")
            src = (f'data.get("{f["name"]}", {f["default"]!r})' if default
                   else f'data["{f["name"]}"]')
            value_expr = (f"{annotation}.from_dict({src})" if nested
                          else self.convert(ftype, src))
            assigns.append(f"            {ident}={value_expr},")
        lines += [
            "",
            "    @classmethod",
            f"    def from_dict(cls, data: Mapping[str, Any]) -> {name}:",
            '        """From a decoded Avro record or its JSON form; unknown fields are'
            ' ignored."""',
            "        return cls(",
            *assigns,
            "        )",
        ]
        self.blocks.append("\n".join(lines))


def generate_models(catalog: SchemaCatalog) -> str:
    """The whole `models.py`: deterministic for a given set of schema files."""
    gen = _Gen()
    names = []
    for schema in sorted(catalog, key=lambda s: (s.event_name, s.major)):
        name = class_name(schema)
        gen.record(name, schema.raw, schema)
        names.append((schema, name))
    union = "(\n    " + "\n    | ".join(n for _, n in names) + "\n)"
    registry = "\n".join(f'    ("{s.event_name}", {s.major}): {n},' for s, n in names)
    tail = f'''


Event = {union}
"""Any event model."""

MODELS: dict[tuple[str, int], type[Event]] = {{
{registry}
}}
"""Model class by (event_name, major)."""


def from_dict(data: Mapping[str, Any]) -> Event:
    """The model of a decoded value, by its `event_name` and the major of `schema_version`.

    Raises KeyError for an event or major this version of the package does not know: count and
    skip it (a new major is announced in docs/consumers/CHANGES.md).
    """
    major = int(str(data["schema_version"]).split(".", 1)[0])
    return MODELS[(str(data["event_name"]), major)].from_dict(data)
'''
    body = "\n\n\n".join(gen.blocks)
    wrapped = "\n".join(_wrap(line) for line in body.splitlines())
    return HEADER + "\n\n" + wrapped + "\n" + tail


def _wrap(line: str, limit: int = 99) -> str:
    """Keep generated docstrings within the line limit (ruff's E501)."""
    stripped = line.lstrip()
    if len(line) <= limit or not stripped.startswith('"""'):
        return line
    indent = line[: len(line) - len(stripped)]
    words = stripped.split(" ")
    out, current = [], indent
    for word in words:
        if len(current) + len(word) + 1 > limit and current.strip():
            out.append(current.rstrip())
            current = indent
        current += word + " "
    out.append(current.rstrip())
    return "\n".join(out)


def schema_fingerprint(catalog: SchemaCatalog) -> str:
    """Stable text of all schemas (used in tests to show what the models were built from)."""
    return json.dumps({s.full_name: s.raw for s in catalog}, sort_keys=True)
