"""Static checks of the Avro wire contract in schemas-avro/ (no services needed)."""

from __future__ import annotations

import io
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.schema import parse_schema
from support.evolution import EVENT, FILE, MAJOR_FILE, major_copy, minor_copy

from nmc.contract.majors import major_step
from nmc.contract.schemas import DOMAINS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas-avro"
FILE_RE = re.compile(r"^(?P<event>[A-Z][A-Za-z0-9]*)\.v(?P<major>[1-9][0-9]*)\.avsc$")
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
E164_RE = re.compile(r"^\+[1-9]\d{1,14}$")

UUID_T = {"type": "string", "logicalType": "uuid"}
TS_T = {"type": "long", "logicalType": "timestamp-millis"}
ENVELOPE = [
    ("event_id", UUID_T),
    ("event_name", "string"),
    ("schema_version", "string"),
    ("tenant_id", UUID_T),
    ("occurred_at", TS_T),
    ("correlation_id", UUID_T),
    ("causation_id", ["null", UUID_T]),
]
PHONE_FIELDS = {"from_phone", "to_phone", "caller_phone", "customer_phone"}
CLOSED_FIELDS = {"reason", "direction", "status", "cancelled_reason", "plan"}
TIME_FIELDS = {"start", "end", "current_period_end"}

# The accepted event catalog (seeds/000_28ab7e9ee55d5915.txt §1-§6) defines these 13 events in 6
# domains (DESIGN.md says "14 events", but where it and the catalog disagree the catalog wins).
# They must stay; events added later are read from catalog.json like these (docs/producers/
# schemas.md, "Adding an event type"): nothing here lists them.
ACCEPTED_EVENTS = {
    "nmc.telephony.CallDetected",
    "nmc.telephony.InboundSmsReceived",
    "nmc.conversation.ConversationStarted",
    "nmc.conversation.MessageSent",
    "nmc.conversation.DeliveryUpdated",
    "nmc.conversation.HumanTakeoverRequested",
    "nmc.catalog.CatalogUpdated",
    "nmc.scheduling.AppointmentHeld",
    "nmc.scheduling.AppointmentBooked",
    "nmc.scheduling.AppointmentReleased",
    "nmc.scheduling.AppointmentCancelled",
    "nmc.compliance.ComplianceStatusChanged",
    "nmc.billing.SubscriptionUpdated",
}

SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*/*.avsc"))


def catalog_events(schema_dir: Path) -> set[str]:
    """The events `catalog.json` of `schema_dir` names (the list every check derives from)."""
    return set(json.loads((schema_dir / "catalog.json").read_text(encoding="utf-8")))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _event_name(path: Path) -> str:
    m = FILE_RE.match(path.name)
    assert m, path
    return f"nmc.{path.parent.name}.{m['event']}"


def _payload_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return schema["fields"][-1]["type"]["fields"]


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _to_avro(value: Any, avro_type: Any) -> Any:
    """JSON form (catalog) -> the Python form fastavro writes."""
    if isinstance(avro_type, dict) and avro_type.get("logicalType") == "timestamp-millis":
        return _parse_ts(value)
    if isinstance(avro_type, dict) and avro_type.get("type") == "array":
        return [_to_avro(v, avro_type["items"]) for v in value]
    return value


def _to_json(value: Any) -> Any:
    """Python form fastavro reads -> JSON form (catalog)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    return _load(SCHEMA_DIR / "catalog.json")


def check_majors(files: list[Path], events: set[str] | None = None) -> None:
    """Every catalog event (`events`, default: catalog.json's) has a v1 file and its majors
    run 1..N without a gap; a file of major N > 1 is a breaking change published side by side
    (README "A major change") and declares its step from N-1 (`nmc.previous_major`)."""
    events = catalog_events(SCHEMA_DIR) if events is None else events
    assert {p.parent.name for p in files} <= set(DOMAINS)
    assert {_event_name(p) for p in files} == events
    majors: dict[str, list[int]] = {}
    for p in files:
        m = FILE_RE.match(p.name)
        assert m, p
        majors.setdefault(_event_name(p), []).append(int(m["major"]))
        if int(m["major"]) > 1:
            step = major_step(_load(p), int(m["major"]))
            assert step is not None, f"{p.name}: no nmc.previous_major"
            fields = {f["name"] for f in _payload_fields(_load(p))}
            assert set(step.renamed) <= fields and step.added <= fields, p.name
    for event, found in majors.items():
        assert sorted(found) == list(range(1, len(found) + 1)), (event, found)


def test_majors_of_every_catalog_event_in_six_domains() -> None:
    assert catalog_events(SCHEMA_DIR) >= ACCEPTED_EVENTS
    assert {p.parent.name for p in SCHEMA_FILES} == set(DOMAINS)
    check_majors(SCHEMA_FILES)


def test_a_major_version_beside_v1_passes_the_same_checks(tmp_path: Path) -> None:
    """A breaking change as `<Event>.v2.avsc` is accepted by rule, not by a file count."""
    major_copy(tmp_path / "v2")
    files = sorted((tmp_path / "v2").glob("*/*.avsc"))
    assert len(files) == len(SCHEMA_FILES) + 1
    check_majors(files)
    check_schema_file(tmp_path / "v2" / MAJOR_FILE)
    (tmp_path / "v2" / FILE).unlink()  # a v2 without its v1: a gap
    with pytest.raises(AssertionError):
        check_majors(sorted((tmp_path / "v2").glob("*/*.avsc")))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_file(path: Path) -> None:
    check_schema_file(path)


def test_a_minor_version_passes_the_same_checks(tmp_path: Path) -> None:
    """The change README calls minor (an optional field with a default, nmc.version bumped)
    is a valid schema file; an added field whose type its name forbids, or whose default is
    not the union's null, is not. (A new field *without* a default is a breaking change: the
    gate finds it by comparing with the previous version, `tests/integration/test_gate.py`.)"""
    schema = minor_copy(tmp_path / "ok", "1.1.0").get(EVENT, 1)
    assert schema is not None and schema.version == "1.1.0"
    check_schema_file(schema.path)
    minor_copy(tmp_path / "id", "1.1.0", ("caller_id",))
    with pytest.raises(AssertionError, match="caller_id"):  # an id must be a uuid
        check_schema_file(tmp_path / "id" / FILE)
    raw = _load(schema.path)
    raw["fields"][-1]["type"]["fields"][-1]["default"] = "unknown"
    schema.path.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    with pytest.raises(AssertionError, match="default must be null"):
        check_schema_file(schema.path)


def check_schema_file(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    schema = json.loads(text)
    # two-space indented JSON, keys in the documented order
    assert text == json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    keys = ["type", "name", "namespace", "doc", "nmc.version", "fields"]
    if "nmc.previous_major" in schema:  # a major > 1 says how it differs from the one before
        keys.insert(-1, "nmc.previous_major")
    assert list(schema) == keys

    parse_schema(schema)  # raises on an invalid schema

    m = FILE_RE.match(path.name)
    assert m, f"bad file name {path.name}"
    domain, event, major = path.parent.name, m["event"], m["major"]
    assert schema["type"] == "record"
    assert schema["name"] == event
    assert schema["namespace"] == f"nmc.{domain}.v{major}"
    assert schema["doc"].startswith("When: ") and "; Producer: " in schema["doc"]
    assert SEMVER_RE.match(schema["nmc.version"])
    assert schema["nmc.version"].split(".")[0] == major

    fields = schema["fields"]
    names = [f["name"] for f in fields]
    assert names == [n for n, _ in ENVELOPE] + ["payload"]
    for f, (name, avro_type) in zip(fields, ENVELOPE, strict=False):
        assert f["type"] == avro_type, name
    causation = fields[6]
    assert "default" in causation and causation["default"] is None
    assert f"nmc.{domain}.{event}" in fields[1]["doc"]

    payload = fields[7]["type"]
    assert payload["type"] == "record"
    assert payload["name"] == f"{event}Payload"
    assert payload["namespace"] == schema["namespace"]
    assert payload["fields"], "empty payload"

    for f in [*fields, *payload["fields"]]:
        assert isinstance(f.get("doc"), str) and f["doc"].strip(), f"{f['name']} has no doc"
        assert list(f)[:2] == ["name", "type"], f["name"]

    optional = [f for f in payload["fields"] if "default" in f]
    assert payload["fields"][len(payload["fields"]) - len(optional):] == optional, (
        "fields with a default come after the catalog's required ones (a minor version "
        "appends them)")
    for f in payload["fields"]:
        _check_payload_field(f)


PRIMITIVES = {"string", "boolean", "int", "long", "float", "double"}


def _check_payload_field(f: dict[str, Any]) -> None:
    """The catalog's type rules by field name. A field with a default is one the README lets
    a minor version add (additive with a default): `["null", T]` with default null, where T
    follows the same naming rules, or any primitive when its name implies none."""
    name, t = f["name"], f["type"]
    added = "default" in f
    if added:
        assert isinstance(t, list) and len(t) == 2 and t[0] == "null", (
            f"{name}: an optional field is a [\"null\", T] union")
        assert f["default"] is None, f"{name}: default must be null (the union's first branch)"
        t = t[1]
    if name.endswith("_id") and not name.startswith("stripe_"):
        assert t == UUID_T, name
    elif name in PHONE_FIELDS:
        assert t == "string" and f.get("nmc.format") == "e164", name
    elif name in TIME_FIELDS:
        assert t == TS_T, name
    elif name in CLOSED_FIELDS:
        allowed = f.get("nmc.allowed")
        assert t == "string", f"{name} must be a string, not an Avro enum"
        assert isinstance(allowed, list) and allowed, name
        assert all(isinstance(v, str) for v in allowed) and len(set(allowed)) == len(allowed)
        assert "README" in f["doc"], name
    elif name == "updated_item_ids":
        assert t == {"type": "array", "items": UUID_T}
    elif name == "full_refresh":
        assert t == "boolean"
    elif added:
        assert t in PRIMITIVES, f"{name}: {t!r}"
    else:
        assert t == "string", name
    if "nmc.allowed" in f:
        assert name in CLOSED_FIELDS, name


def test_no_avro_enums_anywhere() -> None:
    for path in SCHEMA_FILES:
        assert '"enum"' not in path.read_text(encoding="utf-8"), path


def test_catalog_json_matches_files() -> None:
    check_catalog_json(SCHEMA_DIR)


def check_catalog_json(schema_dir: Path) -> None:
    """catalog.json and the .avsc files of `schema_dir` name the same events, and each entry's
    text and example payload agree with its latest schema."""
    catalog = _load(schema_dir / "catalog.json")
    files = sorted(schema_dir.glob("*/*.avsc"))
    assert set(catalog) == {_event_name(p) for p in files}
    for name, entry in catalog.items():
        assert list(entry) == ["domain", "when", "producer", "consumers", "example_payload"]
        assert name.split(".")[1] == entry["domain"]
        assert entry["when"] and entry["producer"] and entry["consumers"]
        mine = [(int(m["major"]), p) for p in files
                if (m := FILE_RE.match(p.name)) and _event_name(p) == name]
        schema = _load(max(mine)[1])  # the example is the latest major's
        assert schema["doc"] == f"When: {entry['when'].rstrip('.')}; Producer: {entry['producer']}"
        assert list(entry["example_payload"]) == [f["name"] for f in _payload_fields(schema)]


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_example_payload_round_trips(path: Path, catalog: dict[str, Any]) -> None:
    check_example_round_trips(path, catalog)


def check_example_round_trips(path: Path, catalog: dict[str, Any]) -> None:
    """The catalog's example payload of `path`'s event fits its schema and survives a round
    trip through Avro binary unchanged."""
    schema = _load(path)
    event_name = _event_name(path)
    example = catalog[event_name]["example_payload"]
    pfields = _payload_fields(schema)

    for f in pfields:
        value = example[f["name"]]
        if "nmc.allowed" in f:
            assert value in f["nmc.allowed"], (f["name"], value)
        if f.get("nmc.format") == "e164":
            assert E164_RE.match(value), (f["name"], value)

    record = {
        "event_id": "0b0f3b9a-0d1e-4c1b-9f1b-7a0a7b8c3d10",
        "event_name": event_name,
        "schema_version": schema["nmc.version"],
        "tenant_id": "a7b1d0ee-d0a8-4b3a-9a6c-1a2b3c4d5e6f",
        "occurred_at": _parse_ts("2025-09-01T18:22:03Z"),
        "correlation_id": "2f1a3c4b-8a9d-4a8e-9c22-bf0a1c9d22aa",
        "causation_id": None,
        "payload": {f["name"]: _to_avro(example[f["name"]], f["type"]) for f in pfields},
    }
    parsed = parse_schema(schema)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record)
    buf.seek(0)
    decoded = fastavro.schemaless_reader(buf, parsed, parsed)
    assert buf.read() == b""

    assert _to_json(decoded["payload"]) == example
    assert _to_json(decoded["occurred_at"]) == "2025-09-01T18:22:03Z"
    assert decoded["event_name"] == event_name
    assert decoded["causation_id"] is None
    # uuid-typed fields must hold real UUIDs (catalog placeholders made concrete)
    for f in pfields:
        if f["type"] == UUID_T:
            assert isinstance(decoded["payload"][f["name"]], uuid.UUID), f["name"]
