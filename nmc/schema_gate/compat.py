"""Avro schema resolution, both directions: can a reader schema read data a writer schema wrote?

This is the local stand-in for the registry's compatibility check. It decides the git-base case
(nothing registered yet) and checks FULL_TRANSITIVE against every registered version even when a
subject's configured level is weaker (Apicurio enforces nothing until a rule is set). The rules are
those of the Avro specification's "Schema Resolution", as implemented by Avro's Java
`SchemaCompatibility` that Confluent, Karapace and Apicurio use (full names plus reader aliases,
numeric promotions, enum defaults).
"""

from __future__ import annotations

from typing import Any

from nmc.schema_gate.avro import PROMOTIONS, Names, decimal_of, deref, describe, normalize


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _names_match(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    """The specification (and Java's SchemaCompatibility) compare *unqualified* names.

    Verified against Apicurio 3.3.3: a nested record moved to another namespace is accepted.
    """
    return bool(
        _short(reader["name"]) == _short(writer["name"])
        or writer["name"] in reader.get("aliases", [])
        or _short(writer["name"]) in {_short(a) for a in reader.get("aliases", [])}
    )


def branch_reads(reader: Any, r_names: Names, writer: Any, w_names: Names) -> bool:
    """Whether a reader's union branch matches a writer's branch, as the specification's
    resolution picks one: the same primitive or a promotion (int -> long, string -> bytes, ...),
    the same unqualified name (or a reader alias) for named types, the same container kind.

    Shallow on purpose: a record matched by name but with an incompatible field is a matched
    pair whose field is the problem, not a missing branch.
    """
    r, w = deref(reader, r_names), deref(writer, w_names)
    rk, wk = r["type"], w["type"]
    if "union" in (rk, wk):
        return False
    if rk != wk:
        return rk in PROMOTIONS.get(wk, frozenset())
    if rk in ("record", "enum", "fixed"):
        return _names_match(r, w)
    return True


def reader_errors(
    reader: Any,
    writer: Any,
    r_names: Names,
    w_names: Names,
    path: str = "",
    seen: set[tuple[str, str]] | None = None,
) -> list[str]:
    """Every reason why `reader` cannot decode data written with `writer` (empty = it can)."""
    seen = set() if seen is None else seen
    reader, writer = deref(reader, r_names), deref(writer, w_names)
    where = path or "<root>"
    if writer["type"] == "union":
        errors: list[str] = []
        for branch in writer["branches"]:
            errors += reader_errors(reader, branch, r_names, w_names, path, seen)
        return errors
    if reader["type"] == "union":
        for branch in reader["branches"]:
            if not reader_errors(branch, writer, r_names, w_names, path, set(seen)):
                return []
        return [
            f"{where}: written as {describe(writer, w_names)}, which no branch of the reader's"
            f" {describe(reader, r_names)} can read"
        ]
    rk, wk = reader["type"], writer["type"]
    if rk != wk:
        if rk in PROMOTIONS.get(wk, frozenset()):
            return []
        return [
            f"{where}: written as {describe(writer, w_names)}, read as"
            f" {describe(reader, r_names)} (no Avro promotion from {wk} to {rk})"
        ]
    if rk == "array":
        return reader_errors(reader["items"], writer["items"], r_names, w_names,
                             f"{path}[]", seen)
    if rk == "map":
        return reader_errors(reader["values"], writer["values"], r_names, w_names,
                             f"{path}{{}}", seen)
    if rk in ("record", "enum", "fixed"):
        if not _names_match(reader, writer):
            return [
                f"{where}: written as {rk} {writer['name']}, read as {rk} {reader['name']}"
                " (names differ and the reader has no alias for the writer's name)"
            ]
        key = (reader["name"], writer["name"])
        if rk == "record" and key in seen:
            return []
        seen.add(key)
    r_dec, w_dec = decimal_of(reader), decimal_of(writer)
    if r_dec is not None and w_dec is not None and r_dec != w_dec:
        return [
            f"{where}: written as decimal({w_dec[0]},{w_dec[1]}), read as"
            f" decimal({r_dec[0]},{r_dec[1]}); decimals match only with equal precision and"
            " scale (Avro specification, Logical Types: Decimal)"
        ]
    if rk == "fixed" and reader["size"] != writer["size"]:
        return [f"{where}: fixed size {writer['size']} written, {reader['size']} expected"]
    if rk == "enum":
        missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
        if missing and not reader["has_default"]:
            return [
                f"{where}: writer's enum symbols {missing} are unknown to the reader, which has"
                " no enum default to map them to"
            ]
        return []
    if rk == "record":
        errors = []
        w_fields = {f["name"]: f for f in writer["fields"]}
        for rf in reader["fields"]:
            wf = w_fields.get(rf["name"])
            if wf is None:
                wf = next((w_fields[a] for a in rf["aliases"] if a in w_fields), None)
            sub = f"{path}.{rf['name']}" if path else rf["name"]
            if wf is None:
                if not rf["has_default"]:
                    errors.append(
                        f"{sub}: the reader expects this field, the writer does not write it"
                        " and the reader has no default for it"
                    )
                continue
            errors += reader_errors(rf["type"], wf["type"], r_names, w_names, sub, seen)
        return errors
    return []


def compatibility_errors(old_raw: Any, new_raw: Any) -> dict[str, list[str]]:
    """FULL compatibility of one pair: `backward` (new reads old) and `forward` (old reads new)."""
    old, old_names = normalize(old_raw)
    new, new_names = normalize(new_raw)
    return {
        "backward": reader_errors(new, old, new_names, old_names),
        "forward": reader_errors(old, new, old_names, new_names),
    }


def full_errors(old_raw: Any, new_raw: Any) -> list[str]:
    """Human reasons why `new_raw` is not FULL compatible with `old_raw` (empty = compatible)."""
    errs = compatibility_errors(old_raw, new_raw)
    return [f"new readers cannot read old data: {e}" for e in errs["backward"]] + [
        f"old readers cannot read new data: {e}" for e in errs["forward"]
    ]


