"""Structural diff of two versions of one Avro schema, at field level.

Each change says where (a dotted field path such as `payload.reason`), what changed, and what it
means for the FULL_TRANSITIVE policy of DESIGN.md §3: which side breaks (new readers on old data =
backward, old readers on new data = forward) and which version bump the change needs. The registry
(when a subject exists) is the authority on compatibility; this diff is what explains its verdict
to a human, and what decides the git-base case when nothing is registered yet.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any

from fastavro.schema import to_parsing_canonical_form

from nmc.schema_gate.avro import (
    PROMOTIONS,
    Names,
    decimal_of,
    deref,
    describe,
    normalize,
    plain_attrs,
)
from nmc.schema_gate.compat import branch_reads, compatibility_errors


class Impact(IntEnum):
    """The smallest version bump a change needs (ordered, so `max()` gives the requirement)."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


OLD_READERS = "old readers cannot read new data"
NEW_READERS = "new readers cannot read old data"


@dataclass(frozen=True)
class Change:
    """One field-level difference between an old and a new schema."""

    path: str
    kind: str
    detail: str
    impact: Impact
    breaks: str | None = None

    def explain(self) -> str:
        why = f" — {self.breaks}" if self.breaks else ""
        return f"{self.path or '<record>'}: {self.detail}{why} [{self.impact.label}]"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["impact"] = self.impact.label
        return data


def _j(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class _Differ:
    def __init__(self, old_names: Names, new_names: Names) -> None:
        self.old_names = old_names
        self.new_names = new_names
        self.changes: list[Change] = []
        self.seen: set[tuple[str, str]] = set()

    def add(self, path: str, kind: str, detail: str, impact: Impact,
            breaks: str | None = None) -> None:
        self.changes.append(Change(path, kind, detail, impact, breaks))

    def d(self, x: Any, new: bool) -> str:
        return describe(x, self.new_names if new else self.old_names)

    # -- types ---------------------------------------------------------------------------------
    def types(self, old: Any, new: Any, path: str) -> None:
        old, new = deref(old, self.old_names), deref(new, self.new_names)
        ok, nk = old["type"], new["type"]
        if ok == "union" or nk == "union":
            self.unions(old, new, path)
            return
        if ok != nk:
            self.type_changed(old, new, path)
            return
        if ok in ("record", "enum", "fixed"):
            if old["name"] != new["name"]:
                self.renamed_type(old, new, path)
            key = (old["name"], new["name"])
            if key in self.seen:
                return
            self.seen.add(key)
            self.named_attrs(old, new, path)
        if ok == "record":
            self.records(old, new, path)
        elif ok == "enum":
            self.enums(old, new, path)
        elif ok == "fixed":
            if old["size"] != new["size"]:
                self.add(path, "fixed_size_changed", f"fixed size {old['size']} -> {new['size']}",
                         Impact.MAJOR, f"{OLD_READERS} and {NEW_READERS}: sizes differ")
        elif ok == "array":
            self.types(old["items"], new["items"], f"{path}[]")
        elif ok == "map":
            self.types(old["values"], new["values"], f"{path}{{}}")
        if ok not in ("record", "enum"):
            self.logical(old, new, path)
        if ok not in ("record", "enum", "fixed"):
            self.attrs(plain_attrs(old), plain_attrs(new), path)

    def logical(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        """Logical types change what the same bytes mean: any change is breaking, and two
        decimals match only with equal precision and scale (Avro specification)."""
        if old.get("logicalType") != new.get("logicalType"):
            self.add(path, "logical_type_changed",
                     f"logical type {old.get('logicalType')} -> {new.get('logicalType')}",
                     Impact.MAJOR,
                     "same bytes, different meaning: readers would misinterpret old or new"
                     " values")
            return
        o_dec, n_dec = decimal_of(old), decimal_of(new)
        if o_dec is not None and n_dec is not None and o_dec != n_dec:
            self.add(path, "decimal_changed",
                     f"decimal(precision, scale) {o_dec} -> {n_dec}", Impact.MAJOR,
                     f"{OLD_READERS} and {NEW_READERS}: the specification lets decimals match"
                     " only with equal precision and scale (the unscaled integer would be read"
                     " at another scale)")

    def type_changed(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        ok, nk = old["type"], new["type"]
        back = nk in PROMOTIONS.get(ok, frozenset())   # new reader promotes old data
        fwd = ok in PROMOTIONS.get(nk, frozenset())    # old reader promotes new data
        detail = f"type {self.d(old, False)} -> {self.d(new, True)}"
        if back and fwd:
            self.add(path, "type_changed", detail + " (promotable both ways)", Impact.MINOR)
        elif back:
            self.add(path, "type_changed",
                     detail + f" is backward compatible (a {nk} reader can read an old {ok})"
                     " but not forward", Impact.MAJOR,
                     f"{OLD_READERS}: an old reader expects {ok} and cannot read a {nk}")
        elif fwd:
            self.add(path, "type_changed", detail + " is forward compatible only", Impact.MAJOR,
                     f"{NEW_READERS}: a {nk} reader cannot read an old {ok}")
        else:
            self.add(path, "type_changed", detail, Impact.MAJOR,
                     f"{OLD_READERS} and {NEW_READERS}: no Avro promotion between {ok} and {nk}")

    def unions(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        """Union branches are resolved as Avro does: an exact match (same type, or same
        unqualified name) first, else the first branch the value promotes to."""
        ob = old["branches"] if old["type"] == "union" else [old]
        nb = new["branches"] if new["type"] == "union" else [new]
        okeys = {self.key(b, False): b for b in ob}
        nkeys = {self.key(b, True): b for b in nb}
        # branches no branch of the other side can read, exactly or by promotion
        unread_old = [k for k, b in okeys.items()
                      if k not in nkeys and not any(self.reads(n, True, b) for n in nb)]
        unread_new = [k for k, b in nkeys.items()
                      if k not in okeys and not any(self.reads(o, False, b) for o in ob)]
        promoted_old = [k for k in okeys if k not in nkeys and k not in unread_old]
        promoted_new = [k for k in nkeys if k not in okeys and k not in unread_new]
        before, after = self.d(old, False), self.d(new, True)
        if old["type"] != "union" and unread_new == ["null"] and not unread_old:
            self.add(path, "made_nullable", f"made nullable: {before} -> {after}", Impact.MAJOR,
                     f"{OLD_READERS}: an old reader expects a non-null {before} and cannot read"
                     " a null")
        elif new["type"] != "union" and unread_old == ["null"] and not unread_new:
            self.add(path, "made_required", f"no longer nullable: {before} -> {after}",
                     Impact.MAJOR, f"{NEW_READERS}: old data may hold null")
        else:
            if unread_new:
                self.add(path, "union_branch_added", f"union branches added: {unread_new}",
                         Impact.MAJOR,
                         f"{OLD_READERS}: no branch of the old {before} reads {unread_new},"
                         " exactly or by promotion")
            if unread_old:
                self.add(path, "union_branch_removed", f"union branches removed: {unread_old}",
                         Impact.MAJOR,
                         f"{NEW_READERS}: old data may hold {unread_old} and no branch of the new"
                         f" {after} reads it, exactly or by promotion")
        if (promoted_old or promoted_new) and not (unread_old or unread_new):
            parts = []
            if promoted_old:
                parts.append(f"{promoted_old} removed (new readers promote old values)")
            if promoted_new:
                parts.append(f"{promoted_new} added (old readers promote new values)")
            self.add(path, "union_branches_promoted",
                     f"union branches {before} -> {after}: " + ", ".join(parts)
                     + "; readable both ways, the encoding changes", Impact.MINOR)
        elif (old["type"] == "union") != (new["type"] == "union") and not (
            unread_old or unread_new or promoted_old or promoted_new
        ):
            what = "wrapped in a union" if new["type"] == "union" else "unwrapped from a union"
            self.add(path, "union_wrapping", f"{what}: {before} -> {after}; readable both ways,"
                     " but the binary encoding changes (a union writes a branch index)",
                     Impact.MINOR)
        elif [k for k in okeys if k in nkeys] != [k for k in nkeys if k in okeys]:
            self.add(path, "union_reordered", "union branches reordered", Impact.MINOR)
        for k, b in okeys.items():
            if k in nkeys:
                self.types(b, nkeys[k], path)

    def reads(self, reader: Any, reader_is_new: bool, writer: Any) -> bool:
        """Whether one union branch reads values of another (shallow; see `branch_reads`)."""
        if reader_is_new:
            return branch_reads(reader, self.new_names, writer, self.old_names)
        return branch_reads(reader, self.old_names, writer, self.new_names)

    def key(self, branch: Any, new: bool) -> str:
        node = deref(branch, self.new_names if new else self.old_names)
        if node["type"] in ("record", "enum", "fixed"):
            return str(node["name"]).rsplit(".", 1)[-1]
        return str(node["type"])

    def renamed_type(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        o_ns, _, o_short = old["name"].rpartition(".")
        n_ns, _, n_short = new["name"].rpartition(".")
        kind = "namespace_changed" if o_short == n_short else "type_renamed"
        what = f"namespace {o_ns} -> {n_ns}" if kind == "namespace_changed" else (
            f"name {old['name']} -> {new['name']}")
        alias = old["name"] in new.get("aliases", [])
        if kind == "namespace_changed":
            self.add(path, kind, f"{old['type']} {what}", Impact.MAJOR,
                     "Avro resolution compares unqualified names, so the registry accepts it, but"
                     f" it renames the type {old['name']} that code-generated readers are built"
                     " on, and breaks the rule that every record of a major lives in"
                     " nmc.<domain>.v<major>")
            return
        self.add(path, kind, f"{old['type']} {what}" + (" (new has an alias)" if alias else ""),
                 Impact.MAJOR,
                 f"{OLD_READERS}: an old reader knows only {old['name']}"
                 + ("" if alias else f"; {NEW_READERS} either (no alias)"))

    def named_attrs(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        if old.get("doc") != new.get("doc"):
            self.add(path, "doc_changed", f"{old['type']} doc changed", Impact.PATCH)
        if old.get("aliases") != new.get("aliases"):
            self.add(path, "aliases_changed",
                     f"aliases {old.get('aliases')} -> {new.get('aliases')}", Impact.PATCH)
        self.attrs(plain_attrs(old), plain_attrs(new), path)

    def attrs(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        for k in sorted(set(old) | set(new)):
            if k == "nmc.version" or _j(old.get(k)) == _j(new.get(k)):
                continue
            if k == "nmc.allowed":
                before, after = list(old.get(k) or []), list(new.get(k) or [])
                removed = [v for v in before if v not in after]
                added = [v for v in after if v not in before]
                if removed:
                    self.add(path, "allowed_values_removed", f"allowed values removed: {removed}",
                             Impact.MAJOR,
                             f"existing data may hold {removed}; removing or renaming a value"
                             " changes the meaning of old data")
                if added:
                    self.add(path, "allowed_values_added", f"allowed values added: {added}",
                             Impact.MINOR)
                if not removed and not added:
                    self.add(path, "allowed_values_reordered", "allowed values reordered",
                             Impact.PATCH)
                continue
            self.add(path, "attribute_changed",
                     f"attribute {k}: {_j(old.get(k))} -> {_j(new.get(k))}", Impact.PATCH)

    # -- records -------------------------------------------------------------------------------
    def records(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        def sub(name: str) -> str:
            return f"{path}.{name}" if path else name

        old_fields = {f["name"]: f for f in old["fields"]}
        matched: dict[str, str] = {}  # new name -> old name
        for nf in new["fields"]:
            if nf["name"] in old_fields:
                matched[nf["name"]] = nf["name"]
            else:
                alias = next((a for a in nf["aliases"] if a in old_fields), None)
                if alias is not None:
                    matched[nf["name"]] = alias
        used_old = set(matched.values())
        for nf in new["fields"]:
            name = nf["name"]
            if name not in matched:
                if nf["has_default"]:
                    self.add(sub(name), "field_added",
                             f"added with default {_j(nf['default'])}", Impact.MINOR)
                else:
                    self.add(sub(name), "field_added_without_default",
                             "added without a default", Impact.MAJOR,
                             f"{NEW_READERS}: old records lack {name!r} and the new schema has no"
                             " default to fill it")
                continue
            of = old_fields[matched[name]]
            if matched[name] != name:
                if of["has_default"]:
                    self.add(sub(name), "field_renamed",
                             f"renamed from {of['name']!r} (alias kept)", Impact.MINOR,
                             None)
                else:
                    self.add(sub(name), "field_renamed",
                             f"renamed from {of['name']!r} with alias {of['name']!r}",
                             Impact.MAJOR,
                             f"{OLD_READERS}: the alias lets new readers find {of['name']!r} in"
                             f" old data, but old readers look for {of['name']!r}, which new data"
                             " does not carry, and it has no default")
            self.field(of, nf, sub(name))
        for of in old["fields"]:
            if of["name"] in used_old:
                continue
            if of["has_default"]:
                self.add(sub(of["name"]), "field_removed",
                         f"removed (old default {_j(of['default'])})", Impact.MINOR)
            else:
                self.add(sub(of["name"]), "field_removed_without_default",
                         "removed; it had no default", Impact.MAJOR,
                         f"{OLD_READERS}: old readers require {of['name']!r} and have no default"
                         " for it")
        old_order = [f for f in (matched.get(n["name"]) for n in new["fields"]) if f]
        if old_order != [f["name"] for f in old["fields"] if f["name"] in used_old]:
            self.add(path, "fields_reordered", "field order changed (binary layout changes)",
                     Impact.MINOR)

    def field(self, of: dict[str, Any], nf: dict[str, Any], path: str) -> None:
        self.types(of["type"], nf["type"], path)
        if of["has_default"] != nf["has_default"] or _j(of["default"]) != _j(nf["default"]):
            if not nf["has_default"]:
                self.add(path, "default_removed", f"default {_j(of['default'])} removed",
                         Impact.MINOR)
            elif not of["has_default"]:
                self.add(path, "default_added", f"default {_j(nf['default'])} added", Impact.MINOR)
            else:
                self.add(path, "default_changed",
                         f"default {_j(of['default'])} -> {_j(nf['default'])}", Impact.MINOR)
        if of["doc"] != nf["doc"]:
            self.add(path, "doc_changed", "doc changed", Impact.PATCH)
        if of["aliases"] != nf["aliases"]:
            self.add(path, "aliases_changed", f"aliases {of['aliases']} -> {nf['aliases']}",
                     Impact.PATCH)
        if of["order"] != nf["order"]:
            self.add(path, "order_changed", f"sort order {of['order']} -> {nf['order']}",
                     Impact.MINOR)
        self.attrs(of["attrs"], nf["attrs"], path)

    # -- enums ---------------------------------------------------------------------------------
    def enums(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        added = [s for s in new["symbols"] if s not in old["symbols"]]
        removed = [s for s in old["symbols"] if s not in new["symbols"]]
        if added:
            if old["has_default"]:
                self.add(path, "enum_symbols_added",
                         f"enum symbols added: {added} (old readers map them to their enum"
                         f" default {old['default']!r})", Impact.MINOR)
            else:
                self.add(path, "enum_symbols_added", f"enum symbols added: {added}", Impact.MAJOR,
                         f"{OLD_READERS}: old readers do not know {added} and the old enum has no"
                         " default")
        if removed:
            if new["has_default"]:
                self.add(path, "enum_symbols_removed",
                         f"enum symbols removed: {removed} (new readers map them to"
                         f" {new['default']!r})", Impact.MINOR)
            else:
                self.add(path, "enum_symbols_removed", f"enum symbols removed: {removed}",
                         Impact.MAJOR,
                         f"{NEW_READERS}: old data may hold {removed} and the new enum has no"
                         " default")
        if not added and not removed and old["symbols"] != new["symbols"]:
            self.add(path, "enum_symbols_reordered", "enum symbols reordered", Impact.MINOR)
        if old["has_default"] != new["has_default"] or old["default"] != new["default"]:
            self.add(path, "enum_default_changed",
                     f"enum default {old['default']!r} -> {new['default']!r}", Impact.MINOR)


def parsing_canonical_form(raw: Any) -> str:
    """The specification's Parsing Canonical Form: full names, no docs/defaults/attributes."""
    return str(to_parsing_canonical_form(json.loads(json.dumps(raw))))


def diff_schemas(old_raw: Any, new_raw: Any) -> list[Change]:
    """Field-level changes from `old_raw` to `new_raw`, cross-checked with Avro resolution.

    Any change of the Parsing Canonical Form the structural rules did not already rank minor or
    above is added as a minor change, so a version number never names two encodings.

    If the resolution check finds an incompatibility the structural rules did not classify as
    major (a gap in the rules), it is added as a major change, so the verdict never under-states.
    """
    old, old_names = normalize(old_raw)
    new, new_names = normalize(new_raw)
    differ = _Differ(old_names, new_names)
    differ.types(old, new, "")
    changes = differ.changes
    if required_bump(changes) < Impact.MINOR and parsing_canonical_form(
        old_raw
    ) != parsing_canonical_form(new_raw):
        # e.g. "string" -> ["string"]: readable both ways, but another encoding; one version
        # number must never name two encodings
        changes.append(Change("", "canonical_form_changed",
                              "the schema's Parsing Canonical Form (what the encoding depends on)"
                              " changed", Impact.MINOR))
    errors = compatibility_errors(old_raw, new_raw)
    if (errors["backward"] or errors["forward"]) and not any(
        c.impact is Impact.MAJOR for c in changes
    ):
        for e in errors["backward"]:
            changes.append(Change("", "incompatible", e, Impact.MAJOR, NEW_READERS))
        for e in errors["forward"]:
            changes.append(Change("", "incompatible", e, Impact.MAJOR, OLD_READERS))
    return changes


def required_bump(changes: list[Change]) -> Impact:
    """The bump the whole set of changes needs: the largest of its parts."""
    return max((c.impact for c in changes), default=Impact.NONE)
