"""The stream apps' decoder: framing rules and one schema parse per id (no services)."""

from __future__ import annotations

import io
import json

import pytest
from fastavro import parse_schema, schemaless_writer

from nmc.contract.facts import PoisonEvent
from nmc.contract.wire import UnframedValue, require_schema_id
from nmc.infra.avro_decoder import AvroDecoder

SCHEMA = {"type": "record", "name": "Ping", "namespace": "t",
          "fields": [{"name": "n", "type": "long"}, {"name": "s", "type": "string"}]}


def _framed(schema_id: int, record: dict[str, object]) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, parse_schema(SCHEMA), record)
    return b"\x00" + schema_id.to_bytes(4, "big") + out.getvalue()


def test_the_schema_id_is_read_big_endian() -> None:
    assert require_schema_id(b"\x00\x00\x00\x01\x02rest") == 258


@pytest.mark.parametrize(("value", "reason"), [
    (b"", "shorter than the Confluent frame"),
    (b"\x00\x00\x00", "shorter than the Confluent frame"),
    (b"\x01\x00\x00\x00\x01", "unknown magic byte 1"),
    (b'{"json": 1}', "unknown magic byte 123"),
])
def test_unframed_bytes_are_poison_with_the_reason(value: bytes, reason: str) -> None:
    with pytest.raises(PoisonEvent, match=reason):  # dead-lettered by the projector
        require_schema_id(value)
    with pytest.raises(UnframedValue, match=reason):
        AvroDecoder(lambda _id: json.dumps(SCHEMA))(value)


def test_decoder_looks_each_schema_id_up_once() -> None:
    lookups: list[int] = []

    def lookup(schema_id: int) -> str:
        lookups.append(schema_id)
        return json.dumps(SCHEMA)

    decode = AvroDecoder(lookup)
    assert decode(_framed(7, {"n": 1, "s": "a"})) == {"n": 1, "s": "a"}
    assert decode(_framed(7, {"n": -5, "s": "é"})) == {"n": -5, "s": "é"}
    assert decode(_framed(9, {"n": 2, "s": ""})) == {"n": 2, "s": ""}
    assert lookups == [7, 9]


def test_truncated_avro_is_an_error_and_lookup_errors_propagate() -> None:
    decode = AvroDecoder(lambda _id: json.dumps(SCHEMA))
    with pytest.raises(EOFError):
        decode(_framed(1, {"n": 1, "s": "abcdef"})[:-3])

    def unreachable(_id: int) -> str:
        raise ConnectionRefusedError("registry down")

    with pytest.raises(ConnectionRefusedError):
        AvroDecoder(unreachable)(_framed(1, {"n": 1, "s": "x"}))
