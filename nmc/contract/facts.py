"""Decoded Avro records turned into small, JSON-safe facts: what every consumer of the
platform works on.

Pure module (no Faust, Kafka or database import): the stream apps, the conversation reactor,
the tests and the benchmark baseline all go through `to_fact`, so a record is read one way
everywhere and what is stored in a table is the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nmc.contract.payload import format_rfc3339_utc, to_json_value


class PoisonEvent(ValueError):
    """A record that can never be processed as is (retrying will not help): dead-letter it."""


@dataclass(frozen=True)
class Fact:
    """One event, reduced to what read models need.

    `occurred_at` is an ISO-8601 UTC string with millisecond precision, so that it sorts
    lexicographically and round-trips through JSON tables unchanged.
    """

    event_id: str
    name: str
    tenant_id: str
    correlation_id: str
    occurred_at: str
    payload: dict[str, Any]
    event_name: str = ""  # the full `nmc.<domain>.<Event>`; `name` is its last part

    @property
    def key(self) -> str:
        return f"{self.tenant_id}:{self.correlation_id}"

    @property
    def day(self) -> str:
        """UTC day of the event time (never the wall clock)."""
        return self.occurred_at[:10]

    def to_json(self) -> dict[str, Any]:
        return {"n": self.name, "t": self.occurred_at, "p": self.payload}


def iso_utc(value: datetime) -> str:
    """Millisecond ISO form with a Z suffix, fixed width; naive datetimes are refused."""
    if value.tzinfo is None:
        raise PoisonEvent("naive datetime in event")
    return format_rfc3339_utc(value, fixed_millis=True)


def _plain(value: Any) -> Any:
    return to_json_value(value, fixed_millis=True)


def to_fact(record: Any) -> Fact:
    """A fact from a record decoded by confluent's AvroDeserializer; `PoisonEvent` if unusable."""
    if not isinstance(record, Mapping):
        raise PoisonEvent(f"value is not an Avro record but {type(record).__name__}")
    try:
        event_name = str(record["event_name"])
        occurred = record["occurred_at"]
        payload = record["payload"]
        fact = Fact(
            event_id=str(_plain(record["event_id"])),
            name=event_name.rsplit(".", 1)[-1],
            tenant_id=str(_plain(record["tenant_id"])),
            correlation_id=str(_plain(record["correlation_id"])),
            occurred_at=iso_utc(occurred) if isinstance(occurred, datetime) else str(occurred),
            payload=_plain(payload) if isinstance(payload, Mapping) else {},
            event_name=event_name,
        )
    except (KeyError, TypeError) as exc:
        raise PoisonEvent(f"record lacks envelope field {exc}") from exc
    if not event_name.startswith("nmc.") or not fact.event_id or not fact.tenant_id:
        raise PoisonEvent(f"not an nmc event: {event_name!r}")
    return fact
