"""Payload validation and conversion driven by the Avro schema (pure functions).

The validator walks the payload record of an `.avsc` file instead of a hand-written model, so a
schema change is a validation change and the two cannot drift. Custom field attributes add what
Avro cannot say: ``nmc.allowed`` (closed value set) and ``nmc.format: e164`` (phone numbers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import phonenumbers

from nmc.contract.errors import FieldError

_RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$")
# Shapes of credentials we might be handed by providers; the catalog says "no secrets".
_SECRET_PATTERNS = (
    re.compile(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]{8,}"),  # Stripe secret/restricted keys
    re.compile(r"\bwhsec_[A-Za-z0-9]{8,}"),  # Stripe webhook secrets
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}"),  # bearer tokens
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)

JsonValue = Any


def parse_rfc3339_utc(value: object) -> datetime:
    """Parse the catalog's ``RFC3339-UTC`` strings; anything else (offsets, naive) is refused."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() != UTC.utcoffset(None):
            raise ValueError("datetime must be timezone-aware UTC")
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError(f"expected an RFC3339 UTC timestamp string, got {type(value).__name__}")
    if not _RFC3339_UTC.match(value):
        raise ValueError(f"not an RFC3339 UTC timestamp (like 2025-09-01T18:22:03Z): {value!r}")
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def format_rfc3339_utc(value: datetime, *, fixed_millis: bool = False) -> str:
    """Millisecond precision, ``Z`` suffix: what Avro timestamp-millis can carry back.

    Whole seconds drop their ``.000`` (as the catalog prints them) unless `fixed_millis`:
    then every timestamp has the same width and strings sort in time order (the stream apps'
    JSON state)."""
    text = value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return text if fixed_millis else text.replace(".000Z", "Z")


_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def parse_uuid(value: object) -> UUID:
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a UUID string, got {type(value).__name__}")
    try:
        parsed = UUID(value)
    except ValueError:
        raise ValueError(f"not a UUID: {value!r}") from None
    if _CANONICAL_UUID.fullmatch(value) is None:
        raise ValueError(f"UUID must be in canonical 8-4-4-4-12 form: {value!r}")
    return parsed


def check_e164(value: str) -> None:
    why = _e164_problem(value)
    if why is not None:
        raise ValueError(why)


@lru_cache(maxsize=65536)
def _e164_problem(value: str) -> str | None:
    """Why `value` is not an E.164 number (None: it is); cached, since the same callers' and
    businesses' numbers recur in every batch and parsing one costs ~0.3 ms."""
    if not value.startswith("+"):
        return f"not an E.164 phone number (must start with +): {value!r}"
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        return f"not an E.164 phone number ({exc}): {value!r}"
    if not phonenumbers.is_possible_number(number):
        return f"not a possible phone number: {value!r}"
    if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != value:
        return f"not in E.164 form (+<country><number>, no spaces): {value!r}"
    return None


def find_secret(value: str) -> str | None:
    for pattern in _SECRET_PATTERNS:
        if pattern.search(value):
            return pattern.pattern
    return None


def redact_secrets(text: str) -> str:
    """The credential-shaped parts of `text` (the patterns `find_secret` refuses) replaced
    by ``[redacted]``: for free text a customer wrote, where refusing would lose the message."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


def _is_nullable(avro_type: Any) -> bool:
    return isinstance(avro_type, list) and "null" in avro_type


def _non_null(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        if len(branches) != 1:
            raise ValueError(f"unsupported union {avro_type!r}")
        return branches[0]
    return avro_type


def _check_value(
    path: str, avro_type: Any, attrs: Mapping[str, Any], value: JsonValue
) -> tuple[JsonValue, list[FieldError]]:
    """Validate one JSON value against an Avro type; returns the JSON-normal value."""
    if value is None:
        if _is_nullable(avro_type):
            return None, []
        return None, [FieldError(path, "must not be null")]
    avro_type = _non_null(avro_type)
    kind = avro_type if isinstance(avro_type, str) else avro_type.get("type")
    logical = avro_type.get("logicalType") if isinstance(avro_type, dict) else None
    try:
        if logical == "uuid":
            return str(parse_uuid(value)), []
        if logical in ("timestamp-millis", "timestamp-micros"):
            return format_rfc3339_utc(parse_rfc3339_utc(value)), []
        if kind == "string":
            if not isinstance(value, str):
                return None, [FieldError(path, f"expected a string, got {type(value).__name__}")]
            errors = []
            allowed = attrs.get("nmc.allowed")
            if allowed is not None and value not in allowed:
                errors.append(FieldError(path, f"{value!r} is not one of {list(allowed)}"))
            if attrs.get("nmc.format") == "e164":
                check_e164(value)
            secret = find_secret(value)
            if secret is not None:
                errors.append(FieldError(path, "looks like a credential; events carry no secrets"))
            return value, errors
        if kind == "boolean":
            if not isinstance(value, bool):
                return None, [FieldError(path, f"expected true or false, got {value!r}")]
            return value, []
        if kind in ("int", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                return None, [FieldError(path, f"expected an integer, got {value!r}")]
            return value, []
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None, [FieldError(path, f"expected a number, got {value!r}")]
            return value, []
        if kind == "array":
            if not isinstance(value, list):
                return None, [FieldError(path, f"expected a list, got {type(value).__name__}")]
            out, errors = [], []
            for i, item in enumerate(value):
                normal, errs = _check_value(f"{path}[{i}]", avro_type["items"], attrs, item)
                out.append(normal)
                errors.extend(errs)
            return out, errors
        if kind == "record":
            if not isinstance(value, Mapping):
                return None, [FieldError(path, f"expected an object, got {type(value).__name__}")]
            return validate_record(avro_type["fields"], value, path)
    except ValueError as exc:
        return None, [FieldError(path, str(exc))]
    return None, [FieldError(path, f"unsupported Avro type {avro_type!r}")]


def validate_record(
    fields: Sequence[Mapping[str, Any]], data: Mapping[str, JsonValue], path: str = "payload"
) -> tuple[dict[str, JsonValue], list[FieldError]]:
    """Validate a JSON object against record fields; unknown keys and missing fields are errors."""
    errors: list[FieldError] = []
    known = {f["name"] for f in fields}
    for key in data:
        if key not in known:
            errors.append(FieldError(f"{path}.{key}", f"unknown field (expected {sorted(known)})"))
    normal: dict[str, JsonValue] = {}
    for spec in fields:
        name = spec["name"]
        if name not in data:
            if "default" in spec:
                normal[name] = spec["default"]
                continue
            errors.append(FieldError(f"{path}.{name}", "required field is missing"))
            continue
        value, errs = _check_value(f"{path}.{name}", spec["type"], spec, data[name])
        normal[name] = value
        errors.extend(errs)
    return normal, errors


def to_avro_value(avro_type: Any, value: JsonValue) -> Any:
    """Convert a validated JSON value to what fastavro writes (timestamps become datetimes)."""
    if value is None:
        return None
    avro_type = _non_null(avro_type)
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical in ("timestamp-millis", "timestamp-micros"):
            return parse_rfc3339_utc(value)
        if avro_type.get("type") == "array":
            return [to_avro_value(avro_type["items"], v) for v in value]
        if avro_type.get("type") == "record":
            return to_avro_record(avro_type["fields"], value)
    return value


def unknown_fields(
    fields: Sequence[Mapping[str, Any]], data: Mapping[str, JsonValue], path: str = "payload"
) -> list[str]:
    """Keys of `data` (nested records included) that `fields` do not define (pure): what an Avro
    writer would silently leave out, because fastavro ignores keys its schema does not know."""
    out = [f"{path}.{k}" for k in data if k not in {f["name"] for f in fields}]
    for spec in fields:
        value = data.get(spec["name"])
        kind = _non_null(spec["type"]) if value is not None else None
        if isinstance(kind, dict) and kind.get("type") == "record" and isinstance(value, Mapping):
            out += unknown_fields(kind["fields"], value, f"{path}.{spec['name']}")
    return out


def to_avro_record(
    fields: Sequence[Mapping[str, Any]], data: Mapping[str, JsonValue]
) -> dict[str, Any]:
    return {f["name"]: to_avro_value(f["type"], data.get(f["name"])) for f in fields}


def to_json_value(value: Any, *, fixed_millis: bool = False) -> JsonValue:
    """Inverse of `to_avro_value` for decoded records (datetimes and UUIDs back to strings):
    the one conversion of decoded values to JSON (`fixed_millis`: see `format_rfc3339_utc`).
    Exact-type checks first: most values are plain, and an ABC `isinstance` is slow."""
    cls = type(value)
    if cls is str or cls is int or cls is bool or cls is float or value is None:
        return value
    if cls is dict:
        return {str(k): to_json_value(v, fixed_millis=fixed_millis) for k, v in value.items()}
    if isinstance(value, datetime):
        return format_rfc3339_utc(value, fixed_millis=fixed_millis)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v, fixed_millis=fixed_millis) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v, fixed_millis=fixed_millis) for v in value]
    return value
