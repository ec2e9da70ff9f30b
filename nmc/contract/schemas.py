"""Load `schemas-avro/`, the single source of truth of the wire contract.

Everything that knows an event's shape — payload validation, the Avro serializer, the
subjects registered, the docs — reads it from here, so Python and the wire cannot drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from fastavro.schema import parse_schema

# `avro` is `schemas-avro/` shipped as package data (a symlink in the source tree, copied into
# the wheel), so an installed platform finds its contract without a checkout.
SCHEMA_DIR = (Path(__file__).parent / "avro").resolve()
DOMAINS = ("telephony", "conversation", "catalog", "scheduling", "compliance", "billing")
_FILE_RE = re.compile(r"^(?P<event>[A-Z][A-Za-z0-9]*)\.v(?P<major>[1-9][0-9]*)\.avsc$")
_NAMESPACE_RE = re.compile(r"^nmc\.(?P<domain>[a-z]+)\.v(?P<major>[1-9][0-9]*)$")
_SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


class SchemaCatalogError(ValueError):
    """A schema file breaks the layout or naming rules of schemas-avro/README.md."""


def topic_for(domain: str) -> str:
    """One topic per domain (DESIGN.md §2)."""
    return f"nmc.{domain}"


def subject_for(topic: str, record_full_name: str) -> str:
    """TopicRecordNameStrategy: ``<topic>-<record full name>``."""
    return f"{topic}-{record_full_name}"


def record_full_name(event_name: str, major: int) -> str:
    """``nmc.<domain>.<Event>`` at a major -> ``nmc.<domain>.v<major>.<Event>`` (pure)."""
    prefix, _, event = event_name.rpartition(".")
    return f"{prefix}.v{major}.{event}"


def parse_semver(version: str) -> tuple[int, int, int]:
    match = _SEMVER_RE.match(version)
    if match is None:
        raise ValueError(f"not a semantic version MAJOR.MINOR.PATCH: {version!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


@dataclass(frozen=True)
class EventSchema:
    """One `.avsc` file: an event at one major version."""

    path: Path
    domain: str
    event: str
    major: int
    version: str
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def event_name(self) -> str:
        """Canonical catalog name, ``nmc.<domain>.<Event>`` (no version)."""
        return f"nmc.{self.domain}.{self.event}"

    @property
    def full_name(self) -> str:
        return f"nmc.{self.domain}.v{self.major}.{self.event}"

    @property
    def topic(self) -> str:
        return topic_for(self.domain)

    @property
    def subject(self) -> str:
        return subject_for(self.topic, self.full_name)

    @cached_property
    def payload_fields(self) -> list[Mapping[str, Any]]:
        """The payload record's fields (found once per schema: writers build thousands of
        events a second from them)."""
        payload = next(f for f in self.raw["fields"] if f["name"] == "payload")
        fields: list[Mapping[str, Any]] = payload["type"]["fields"]
        return fields

    @property
    def schema_str(self) -> str:
        return json.dumps(self.raw, separators=(",", ":"))

    def parsed(self) -> dict[str, Any]:
        return _parsed(self.schema_str)


@lru_cache(maxsize=256)
def _parsed(schema_str: str) -> dict[str, Any]:
    parsed = parse_schema(json.loads(schema_str))
    assert isinstance(parsed, dict)
    return parsed


def load_schema_file(path: Path) -> EventSchema:
    match = _FILE_RE.match(path.name)
    if match is None:
        raise SchemaCatalogError(f"{path}: file name must be <EventName>.v<major>.avsc")
    domain = path.parent.name
    if domain not in DOMAINS:
        raise SchemaCatalogError(f"{path}: folder {domain!r} is not a domain of {DOMAINS}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SchemaCatalogError(f"{path}: not valid JSON: {exc}") from exc
    return _checked(path, raw, domain, match["event"], int(match["major"]))


def _checked(path: Path, raw: Any, domain: str, event: str, major: int) -> EventSchema:
    expected_ns = f"nmc.{domain}.v{major}"
    if raw.get("name") != event or raw.get("namespace") != expected_ns:
        raise SchemaCatalogError(
            f"{path}: record must be named {expected_ns}.{event}, "
            f"found {raw.get('namespace')}.{raw.get('name')}"
        )
    version = raw.get("nmc.version")
    if not isinstance(version, str):
        raise SchemaCatalogError(f"{path}: missing string attribute 'nmc.version'")
    try:
        if parse_semver(version)[0] != major:
            raise SchemaCatalogError(f"{path}: nmc.version {version} is not major {major}")
    except ValueError as exc:
        raise SchemaCatalogError(f"{path}: {exc}") from exc
    try:
        parse_schema(raw)
    except Exception as exc:
        raise SchemaCatalogError(f"{path}: invalid Avro schema: {exc}") from exc
    return EventSchema(path=path, domain=domain, event=event, major=major, version=version, raw=raw)


def version_of(raw: Mapping[str, Any]) -> str | None:
    """The `nmc.version` a schema's JSON carries (registries keep custom attributes)."""
    version = raw.get("nmc.version")
    return version if isinstance(version, str) else None


def registered_schema(raw: Mapping[str, Any], origin: str) -> EventSchema:
    """An `EventSchema` from JSON that is not a file (a registered version, named by
    `origin`), checked like a file: record name, namespace and `nmc.version`."""
    match = _NAMESPACE_RE.match(str(raw.get("namespace", "")))
    if match is None or not isinstance(raw.get("name"), str):
        raise SchemaCatalogError(f"{origin}: not an nmc.<domain>.v<major> record")
    domain, major = match["domain"], int(match["major"])
    if domain not in DOMAINS:
        raise SchemaCatalogError(f"{origin}: {domain!r} is not a domain of {DOMAINS}")
    return _checked(Path(origin), dict(raw), domain, str(raw["name"]), major)


@dataclass(frozen=True)
class SchemaCatalog:
    """All event schemas, addressable by catalog name and major version."""

    schemas: tuple[EventSchema, ...]

    def __iter__(self) -> Iterator[EventSchema]:
        return iter(self.schemas)

    def __len__(self) -> int:
        return len(self.schemas)

    @cached_property
    def event_names(self) -> frozenset[str]:
        return frozenset(s.event_name for s in self.schemas)

    @cached_property
    def _by_major(self) -> dict[tuple[str, int], EventSchema]:
        # Indexed once: every event a producer builds looks its schema up (the reactor: 10k/s).
        found: dict[tuple[str, int], EventSchema] = {}
        for schema in self.schemas:
            found.setdefault((schema.event_name, schema.major), schema)
        return found

    def get(self, event_name: str, major: int) -> EventSchema | None:
        return self._by_major.get((event_name, major))

    def majors(self, event_name: str) -> list[int]:
        return sorted(s.major for s in self.schemas if s.event_name == event_name)

    @cached_property
    def _latest(self) -> dict[str, EventSchema]:
        return {name: schema for (name, _), schema in sorted(
            self._by_major.items(), key=lambda item: item[0])}

    def latest(self, event_name: str) -> EventSchema:
        return self._latest[event_name]


def load_catalog(schema_dir: Path = SCHEMA_DIR) -> SchemaCatalog:
    paths = sorted(schema_dir.glob("*/*.avsc"))
    if not paths:
        raise SchemaCatalogError(f"no schemas found under {schema_dir}")
    return SchemaCatalog(tuple(load_schema_file(p) for p in paths))


@lru_cache(maxsize=1)
def default_catalog() -> SchemaCatalog:
    return load_catalog()
