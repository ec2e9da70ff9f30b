"""`header`: one header's value, as `decode_headers` reads it, without decoding the rest."""

from nmc.contract.headers import decode_headers, header


def test_header_reads_one_value_as_decode_headers_does() -> None:
    raw: list[tuple[str, str | bytes | None]] = [
        ("event_id", b"e1"), ("event_name", b"nmc.telephony.CallDetected"),
        ("traceparent", "00-abc-def-01")]
    for name in ("event_id", "event_name", "traceparent", "missing"):
        assert header(raw, name) == decode_headers(raw).get(name)


def test_header_of_no_headers_a_dict_or_a_repeated_name() -> None:
    assert header(None, "event_name") is None
    assert header({"event_name": b"x"}, "event_name") == "x"
    repeated: list[tuple[str, str | bytes | None]] = [("a", b"1"), ("a", b"2")]
    assert header(repeated, "a") == decode_headers(repeated)["a"] == "2"
    assert header([("a", None)], "a") is None  # no value: none (decode_headers says "None")
