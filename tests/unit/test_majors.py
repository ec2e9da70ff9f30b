"""A major change side by side: payloads across majors, which majors one call writes, and the
rows a writer stages in a transition window (pure; no services)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_writer
from support.evolution import EVENT, major_copy
from support.settings import PlatformSettings as Settings

from nmc.contract.envelope import Envelope, new_event
from nmc.contract.facts import PoisonEvent, to_fact
from nmc.contract.majors import (
    MajorStep,
    MajorStepError,
    convert,
    from_previous,
    major_step,
    majors_to_write,
    to_previous,
)
from nmc.contract.schemas import SchemaCatalog
from nmc.infra.avro_decoder import AvroDecoder
from producers.outbox.writer import with_majors

STEP = MajorStep(2, {"caller_phone": "from_phone"}, frozenset({"caller_name"}),
                 {"provider_ref": "n/a"})
V1 = {"call_id": "c", "from_phone": "+1", "provider_ref": "CA1"}
V2 = {"call_id": "c", "caller_phone": "+1", "caller_name": "Ada"}


def test_a_payload_crosses_a_step_both_ways() -> None:
    assert to_previous(V2, STEP) == {"call_id": "c", "from_phone": "+1", "provider_ref": "n/a"}
    assert from_previous(V1, STEP, {"caller_name": None}) == {
        "call_id": "c", "caller_phone": "+1", "caller_name": None}
    with pytest.raises(MajorStepError, match="caller_name without a default"):
        from_previous(V1, STEP, {})
    assert convert(V2, {2: STEP}, {}, 2, 1) == to_previous(V2, STEP)
    assert convert(V2, {2: STEP}, {}, 2, 2) == V2
    with pytest.raises(MajorStepError, match="major 3 declares no"):
        convert(V2, {2: STEP}, {}, 2, 3)


@pytest.mark.parametrize("spec", [
    "renamed", {"renamed": {"a": 1}}, {"added": "a"}, {"removed": []}, {"other": {}},
])
def test_a_malformed_step_is_refused(spec: object) -> None:
    with pytest.raises(MajorStepError):
        major_step({"nmc.previous_major": spec}, 2)


def test_major_one_has_no_step() -> None:
    assert major_step({"nmc.previous_major": {"renamed": {}}}, 1) is None
    assert major_step({}, 2) is None


@pytest.mark.parametrize(("dual", "retired", "major", "written", "refused"), [
    ({}, {}, 2, [2], False),                                   # no window: its own major
    ({EVENT: [1, 2]}, {}, 2, [1, 2], False),                   # window: both
    ({EVENT: [1, 2]}, {}, 1, [1, 2], False),                   # an older producer, too
    ({EVENT: [1, 2]}, {EVENT: [1]}, 2, [2], False),            # a retired major is left out
    ({}, {EVENT: [1]}, 1, [], True),                           # and refused on its own
    ({"nmc.telephony.Other": [1, 2]}, {}, 2, [2], False),      # windows are per event
])
def test_majors_to_write(dual: dict[str, list[int]], retired: dict[str, list[int]],
                         major: int, written: list[int], refused: bool) -> None:
    majors, errors = majors_to_write(EVENT, major, dual, retired)
    assert majors == written
    assert bool(errors) is refused
    if refused:
        assert "retired" in errors[0].reason


def test_the_settings_read_windows_and_retired_majors_as_json(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMC_DUAL_PUBLISH", json.dumps({EVENT: [1, 2]}))
    monkeypatch.setenv("NMC_RETIRED_MAJORS", json.dumps({EVENT: [1]}))
    settings = Settings()
    assert settings.nmc_dual_publish == {EVENT: [1, 2]}
    assert settings.nmc_retired_majors == {EVENT: [1]}
    assert Settings.model_fields["nmc_dual_publish"].description


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory) -> SchemaCatalog:
    catalog: SchemaCatalog = major_copy(tmp_path_factory.mktemp("major") / "schemas")
    return catalog


def _call(catalog: SchemaCatalog) -> Envelope:
    return new_event(EVENT, tenant_id=uuid.uuid4(), correlation_id=uuid.uuid4(), catalog=catalog,
                     payload={"call_id": str(uuid.uuid4()), "caller_phone": "+13105551212",
                              "to_phone": "+13105550000", "reason": "busy",
                              "provider_ref": "CA1", "caller_name": "Ada"})


def test_a_window_stages_one_row_per_major_with_one_event_id(v2: SchemaCatalog) -> None:
    event = _call(v2)
    rows, errors = with_majors([event], v2, {EVENT: [1, 2]}, {})
    assert errors == []
    assert [r.schema_version for r in rows] == ["1.0.0", "2.0.0"]
    assert {r.event_id for r in rows} == {event.event_id}
    assert {r.key for r in rows} == {event.key}
    assert rows[0].payload["from_phone"] == "+13105551212"
    assert "caller_name" not in rows[0].payload and "caller_phone" not in rows[0].payload
    assert rows[1] == event
    closed, _ = with_majors([event], v2, {}, {})
    assert closed == [event]


def test_a_window_naming_a_major_the_producer_lacks_is_refused(v2: SchemaCatalog) -> None:
    _, errors = with_majors([_call(v2)], v2, {EVENT: [2, 3]}, {})
    assert errors and "no 3 schema file" in errors[0].reason


def _framed(raw: dict[str, object], schema_id: int, record: dict[str, object]) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, parse_schema(raw, named_schemas={}), record)
    return b"\x00" + schema_id.to_bytes(4, "big") + out.getvalue()


def test_the_stream_decoder_reads_both_copies_as_one_fact(v2: SchemaCatalog) -> None:
    event = _call(v2)
    rows, _ = with_majors([event], v2, {EVENT: [1, 2]}, {})
    schemas = {1: v2.get(EVENT, 1), 2: v2.get(EVENT, 2)}
    texts = {n: s.schema_str for n, s in schemas.items() if s is not None}
    values = []
    for r in rows:
        schema = schemas[r.major]
        assert schema is not None
        values.append(_framed(json.loads(texts[r.major]), r.major, r.to_avro(schema)))
    reducers = AvroDecoder(lambda i: texts[i], payload_major=1)
    one, two = (to_fact(reducers(v)) for v in values)
    assert one == two
    as_written = AvroDecoder(lambda i: texts[i])
    assert to_fact(as_written(values[1])).payload["caller_phone"] == "+13105551212"
    v3 = json.loads(texts[2].replace("nmc.telephony.v2", "nmc.telephony.v3"))
    texts[3] = json.dumps(v3)
    with pytest.raises(PoisonEvent, match="major 3"):
        reducers(_framed(v3, 3, values_v2(rows[1], v2)))


def test_scratch_major_is_in_its_own_directory(v2: SchemaCatalog) -> None:
    assert all(Path(s.path).exists() for s in v2)
    assert v2.majors(EVENT) == [1, 2]


def values_v2(event: Envelope, catalog: SchemaCatalog) -> dict[str, object]:
    schema = catalog.get(EVENT, 2)
    assert schema is not None
    return event.to_avro(schema)
