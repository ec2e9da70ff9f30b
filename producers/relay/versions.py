"""Which registered schema a row is published with: the one of its own `schema_version`.

A relay never changes what the writer wrote. A row of ``CallDetected`` 1.0.0 is published under
the registry id of the 1.0.0 schema even when this relay's files are at 1.1.0, and a 1.1.0 row
under the 1.1.0 id even when its files only know 1.0.0: the registered version of the subject
whose ``nmc.version`` equals the row's version. The relay's own file is used when it has that
version (one lookup of its text); otherwise the subject's registered versions are read and
cached. A version found nowhere is `UnknownVersion`: the row is held back, never re-encoded
with another version's schema. The registry ids of a version never change, so what is found
is kept for the life of the process; what is not found is asked again after `retry_s`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from requests.exceptions import RequestException

from nmc.contract.schemas import (
    EventSchema,
    SchemaCatalog,
    SchemaCatalogError,
    parse_semver,
    record_full_name,
    registered_schema,
    subject_for,
    version_of,
)
from nmc.contract.wire import SchemaEncoder, confluent_frame


class UnknownVersion(LookupError):
    """No schema of this version: not in the relay's files, not registered (yet)."""


class RegistryUnavailable(RuntimeError):
    """The registry did not answer; the question stays open (transient)."""


class RegisteredVersions(Protocol):
    """The registry reads the resolution needs (Confluent API; an in-memory one in tests)."""

    def lookup_id(self, subject: str, schema_str: str) -> int | None:
        """The id under which exactly this schema is registered in `subject`, or None."""

    def versions(self, subject: str) -> list[int]:
        """The subject's registered version numbers; empty when it does not exist."""

    def schema(self, subject: str, version: int) -> tuple[int, str]:
        """(id, schema text) of one registered version."""


@dataclass(frozen=True)
class WriterSchema:
    """The schema of one (topic, event, version): its ids and an encoder under its id."""

    subject: str
    version: str
    ids: frozenset[int]  # every registered id whose schema carries this nmc.version
    encoder: SchemaEncoder  # the version's own schema, framed with its (newest) id
    from_registry: bool  # False: the relay's own file
    # Magic byte + id of each of `ids`: a stored value starting with one is of this version.
    frame_headers: frozenset[bytes] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "frame_headers", frozenset(confluent_frame(i, b"") for i in self.ids)
        )


def matching(wanted: str, registered: Iterable[tuple[int, int, Any]]) -> list[tuple[int, Any]]:
    """(id, schema JSON) of the registered versions — (version number, id, JSON) — whose
    ``nmc.version`` is `wanted`, newest registration first (pure)."""
    found = [(n, i, raw) for n, i, raw in registered
             if isinstance(raw, dict) and version_of(raw) == wanted]
    return [(i, raw) for _, i, raw in sorted(found, key=lambda f: f[0], reverse=True)]


class WriterSchemas:
    """Resolves and caches the `WriterSchema` of each (topic, event name, schema_version).

    The subject follows TopicRecordNameStrategy on the row's own topic (DESIGN.md §2).
    """

    def __init__(self, catalog: SchemaCatalog, registry: RegisteredVersions,
                 retry_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._catalog = catalog
        self._registry = registry
        self._retry_s = retry_s
        self._clock = clock
        self._known: dict[tuple[str, str, str], WriterSchema] = {}
        self._unknown: dict[tuple[str, str, str], tuple[float, str]] = {}  # until, why
        self._registered: dict[tuple[str, int], tuple[int, Any]] = {}  # (subject, n) -> id, raw

    def resolve(self, topic: str, event_name: str, version: str) -> WriterSchema:
        """The row's writer schema; raises `UnknownVersion`, `RegistryUnavailable`, or
        `ValueError` for a version that is not semver (a permanent defect of the row)."""
        key = (topic, event_name, version)
        known = self._known.get(key)
        if known is not None:
            return known
        unknown = self._unknown.get(key)
        if unknown is not None and self._clock() < unknown[0]:
            raise UnknownVersion(unknown[1])
        major = parse_semver(version)[0]
        subject = subject_for(topic, record_full_name(event_name, major))
        try:
            resolved = self._resolve(subject, event_name, major, version)
        except UnknownVersion as exc:
            self._unknown[key] = (self._clock() + self._retry_s, str(exc))
            raise
        self._unknown.pop(key, None)
        self._known[key] = resolved
        return resolved

    def _resolve(self, subject: str, event_name: str, major: int, version: str) -> WriterSchema:
        own = self._catalog.get(event_name, major)
        if own is not None and own.version == version:
            schema_id = self._registry.lookup_id(subject, own.schema_str)
            if schema_id is not None:
                return WriterSchema(subject, version, frozenset({schema_id}),
                                    SchemaEncoder(own, schema_id), from_registry=False)
        found = matching(version, self._read(subject))
        if not found:
            where = "this relay's schemas-avro/ has " + (
                f"{own.version}" if own is not None else f"no major {major}")
            raise UnknownVersion(
                f"{event_name} {version}: no registered version of subject {subject} has "
                f"nmc.version {version} ({where}); held back until it is registered"
            )
        newest_id, raw = found[0]
        try:
            schema: EventSchema = registered_schema(raw, f"registry:{subject}")
        except SchemaCatalogError as exc:
            raise UnknownVersion(f"{event_name} {version}: {exc}") from exc
        return WriterSchema(subject, version, frozenset(i for i, _ in found),
                            SchemaEncoder(schema, newest_id), from_registry=True)

    def _read(self, subject: str) -> list[tuple[int, int, Any]]:
        out = []
        for n in self._registry.versions(subject):
            cached = self._registered.get((subject, n))
            if cached is None:
                schema_id, text = self._registry.schema(subject, n)
                try:
                    cached = (schema_id, json.loads(text))
                except ValueError:
                    cached = (schema_id, None)
                self._registered[(subject, n)] = cached
            out.append((n, *cached))
        return out


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, RequestException | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, SchemaRegistryError):
        return exc.http_status_code >= 500 or exc.http_status_code in (408, 429, -1)
    return False


class ConfluentVersions:
    """`RegisteredVersions` over confluent-kafka's client (Apicurio ccompat, Confluent...)."""

    def __init__(self, client: SchemaRegistryClient) -> None:
        self._client = client

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            if _is_transient(exc):
                raise RegistryUnavailable(f"schema registry unavailable ({what}): {exc}") from exc
            if isinstance(exc, SchemaRegistryError) and exc.http_status_code == 404:
                return None
            raise

    def lookup_id(self, subject: str, schema_str: str) -> int | None:
        registered = self._call(subject, lambda: self._client.lookup_schema(
            subject, Schema(schema_str, "AVRO"), normalize_schemas=False))
        return None if registered is None else registered.schema_id

    def versions(self, subject: str) -> list[int]:
        found = self._call(subject, lambda: self._client.get_versions(subject))
        return [] if found is None else sorted(int(v) for v in found)

    def schema(self, subject: str, version: int) -> tuple[int, str]:
        registered = self._call(f"{subject} v{version}",
                                lambda: self._client.get_version(subject, version))
        if registered is None:  # deleted between the listing and now
            raise RegistryUnavailable(f"{subject} version {version} vanished while read")
        return int(registered.schema_id), str(registered.schema.schema_str)

    def close(self) -> None:
        self._client.close()
