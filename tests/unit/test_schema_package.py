"""The schemas as a package: committed models are fresh, decode every event, the version follows
the content, and the wheel installs and works outside the repository (no services)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from nmc.contract.envelope import parse_event
from nmc.contract.examples import example_envelopes
from nmc.contract.schemas import SCHEMA_DIR, default_catalog
from nmc.schema_package.build import PACKAGE_SRC, PackageError, build, generate, stale
from nmc.schema_package.version import fingerprint, read_version_module, version_error


def test_committed_models_are_not_stale() -> None:
    assert stale(SCHEMA_DIR, PACKAGE_SRC) == [], "run `nmc schemas codegen` and commit"


def _avro_roundtrip(envelope: dict[str, object]) -> dict[str, object]:
    event = parse_event(envelope)
    schema = default_catalog().get(event.event_name, event.major)
    assert schema is not None
    parsed = parse_schema(dict(schema.raw))
    buf = io.BytesIO()
    schemaless_writer(buf, parsed, event.to_avro(schema))
    buf.seek(0)
    value = schemaless_reader(buf, parsed, parsed)
    assert isinstance(value, dict)
    return value


def test_models_decode_every_catalog_event() -> None:
    sys.path.insert(0, str(PACKAGE_SRC.parent))
    try:
        from nmc_event_schemas import models
    finally:
        sys.path.remove(str(PACKAGE_SRC.parent))
    envelopes = example_envelopes(uuid.uuid4(), uuid.uuid4())
    assert len(models.MODELS) == len(default_catalog()) == len(envelopes)
    for envelope in envelopes:
        decoded = models.from_dict(_avro_roundtrip(envelope))
        assert envelope["event_name"] == type(decoded).EVENT_NAME
        assert decoded.event_id == UUID(str(envelope["event_id"]))
        assert decoded.occurred_at.tzinfo is not None
        # the JSON form decodes to the same model (strings for uuids and times)
        assert models.from_dict(envelope) == decoded
    booked = models.from_dict(_avro_roundtrip(next(
        e for e in envelopes if e["event_name"] == "nmc.scheduling.AppointmentBooked")))
    assert isinstance(booked, models.AppointmentBookedV1)
    assert isinstance(booked.payload.start, datetime)
    assert booked.payload.start.tzinfo == UTC


def test_models_tolerate_a_newer_minor() -> None:
    sys.path.insert(0, str(PACKAGE_SRC.parent))
    try:
        from nmc_event_schemas import models
    finally:
        sys.path.remove(str(PACKAGE_SRC.parent))
    envelope = example_envelopes(uuid.uuid4(), uuid.uuid4())[0]
    newer = {**envelope, "schema_version": "1.4.0", "added_later": 1,
             "payload": {**envelope["payload"], "new_optional": None}}
    assert models.from_dict(newer).payload == models.from_dict(envelope).payload
    with pytest.raises(KeyError):
        models.from_dict({**envelope, "schema_version": "2.0.0"})


@pytest.mark.parametrize(("old", "new", "same_content", "error"), [
    ("1.0.0", "1.0.0", True, None),
    ("1.0.0", "1.1.0", True, "schemas unchanged: keep package version 1.0.0"),
    ("1.0.0", "1.0.0", False, "schemas changed since package version 1.0.0"),
    ("1.2.0", "1.1.9", False, "schemas changed since package version 1.2.0"),
    ("1.0.0", "1.1.0", False, None),
    ("1.0.0", "v2", False, "is not MAJOR.MINOR.PATCH"),
])
def test_version_follows_content(old: str, new: str, same_content: bool,
                                 error: str | None) -> None:
    message = version_error(old, "a", new, "a" if same_content else "b")
    assert (message is None) if error is None else (message is not None and error in message)


def test_a_schema_change_without_a_new_version_is_refused(tmp_path: Path) -> None:
    schemas, package = tmp_path / "schemas-avro", tmp_path / "nmc_event_schemas"
    shutil.copytree(SCHEMA_DIR, schemas)
    shutil.copytree(PACKAGE_SRC, package, ignore=shutil.ignore_patterns("__pycache__"))
    path = schemas / "telephony" / "CallDetected.v1.avsc"
    raw = json.loads(path.read_text())
    raw["doc"] += " More words."
    path.write_text(json.dumps(raw, indent=2) + "\n")
    assert fingerprint(schemas) != fingerprint(SCHEMA_DIR)
    assert stale(schemas, package) and "give a higher version" in stale(schemas, package)[0]
    with pytest.raises(PackageError):
        generate(schemas, package, None)
    # The next patch of whatever version the committed package has (not a fixed number).
    current, _ = read_version_module((PACKAGE_SRC / "_version.py").read_text(encoding="utf-8"))
    major, minor, patch = (int(p) for p in current.split("."))
    with pytest.raises(PackageError):
        generate(schemas, package, current)
    following = f"{major}.{minor}.{patch + 1}"
    assert generate(schemas, package, following).version == following
    with pytest.raises(PackageError, match="codegen"):
        build(schemas, tmp_path / "dist", package)


def test_wheel_is_reproducible_installs_and_works(tmp_path: Path) -> None:
    wheel = build(SCHEMA_DIR, tmp_path / "a")
    assert wheel.read_bytes() == build(SCHEMA_DIR, tmp_path / "b").read_bytes()
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                    "--target", str(target), str(wheel)], check=True)
    script = (
        "import json, importlib.metadata as md, nmc_event_schemas as p\n"
        "s = json.loads(p.schema_text('nmc.telephony.CallDetected', 1))\n"
        "print(json.dumps({'version': md.version('nmc-event-schemas'), 'pkg': p.__version__,"
        " 'name': s['namespace'] + '.' + s['name'], 'events': len(p.MODELS),"
        " 'catalog': len(p.catalog()), 'doc': p.catalog_doc().startswith('#')}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True, cwd=tmp_path, env={"PYTHONPATH": str(target)}).stdout
    data = json.loads(out)
    assert data == {"version": data["pkg"], "pkg": data["pkg"],
                    "name": "nmc.telephony.v1.CallDetected", "events": 13, "catalog": 13,
                    "doc": True}
