"""The dead-letter header format: one-line error, the four dlq_* headers, originals kept."""

from __future__ import annotations

from nmc.contract.dead_letter import DLQ_ERROR_MAX_CHARS, dlq_headers, dlq_topic, one_line


def test_error_is_one_line_and_bounded() -> None:
    error = "OperationalError: (psycopg.OperationalError) connection failed\n\tat line 1\r\n  x"
    assert one_line(error) == ("OperationalError: (psycopg.OperationalError) connection failed"
                               " at line 1 x")
    long = one_line("e" * 5000)
    assert len(long) == DLQ_ERROR_MAX_CHARS
    assert long.endswith("…")


def test_headers_keep_the_originals_and_add_four() -> None:
    headers = dlq_headers({"event_id": "e1", "event_name": "nmc.telephony.CallDetected"},
                          error="boom\nagain", attempts=3, group_id="g", topic="nmc.telephony",
                          partition=2, offset=41)
    assert headers == {
        "event_id": "e1", "event_name": "nmc.telephony.CallDetected",
        "dlq_error": "boom again", "dlq_attempts": "3", "dlq_group": "g",
        "dlq_source": "nmc.telephony:2:41",
    }
    assert dlq_topic("g") == "nmc.dlq.g"
