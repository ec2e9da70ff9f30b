"""The relay's choice between the value the writer stored and encoding the row itself."""

from __future__ import annotations

from nmc.contract.wire import confluent_frame
from producers.relay.encoding import stored_value

OURS = frozenset({confluent_frame(17, b"")})  # the frames of the row's own version


def test_a_value_framed_with_our_id_is_published_as_stored() -> None:
    value = confluent_frame(17, b"\x02avro")
    assert stored_value(value, OURS) is value


def test_no_stored_value_means_encode() -> None:
    assert stored_value(None, OURS) is None


def test_a_value_framed_with_another_id_is_never_published() -> None:
    assert stored_value(confluent_frame(18, b"\x02avro"), OURS) is None
    assert stored_value(confluent_frame(17 << 8, b"\x02avro"), OURS) is None


def test_something_that_is_not_a_framed_value_is_re_encoded() -> None:
    assert stored_value(b"\x01" + confluent_frame(17, b"\x02avro")[1:], OURS) is None  # magic
    assert stored_value(confluent_frame(17, b""), OURS) is None  # a frame with no record
    assert stored_value(b"", OURS) is None


def test_any_id_of_the_rows_version_is_its_own() -> None:
    both = frozenset({confluent_frame(17, b""), confluent_frame(40, b"")})
    value = confluent_frame(40, b"\x02avro")
    assert stored_value(value, both) is value
