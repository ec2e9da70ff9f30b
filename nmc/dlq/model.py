"""Pure decisions of `nmc dlq`: what a selection means, replay order and headers, ages.

No database, Kafka or terminal here, so every rule is unit-tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nmc.contract.dead_letter import DLQ_HEADERS, REPLAY_HEADERS


class DlqError(RuntimeError):
    """An operator error worth one clear line (bad selection, unknown id, unreachable service)."""


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `7d`, `1w` → a duration; anything else is refused with the forms."""
    match = _AGE.match(text)
    if not match:
        raise DlqError(f"age {text!r} not understood: use a number and s, m, h, d or w (e.g. 2h)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])


@dataclass(frozen=True)
class Selection:
    """Which dead letters an operator means. Empty (no id, group or age) means all of them,
    which `purge` and `replay` refuse unless asked with `--all`."""

    ids: tuple[int, ...] = ()
    group: str | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    include_replayed: bool = True

    @property
    def narrowed(self) -> bool:
        return bool(self.ids or self.group or self.older_than or self.newer_than)

    def where(self) -> tuple[str, dict[str, Any]]:
        """The SQL condition on `stream_dead_letters d` and its parameters."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.ids:
            clauses.append("d.id = ANY(:ids)")
            params["ids"] = list(self.ids)
        if self.group:
            clauses.append("d.group_id = :group")
            params["group"] = self.group
        if self.older_than is not None:
            clauses.append("d.created_at < now() - :older")
            params["older"] = self.older_than
        if self.newer_than is not None:
            clauses.append("d.created_at >= now() - :newer")
            params["newer"] = self.newer_than
        if not self.include_replayed:
            clauses.append("NOT EXISTS (SELECT 1 FROM dead_letter_replays r"
                           " WHERE r.dead_letter_id = d.id)")
        return (" AND ".join(clauses) or "TRUE"), params


@dataclass(frozen=True)
class DeadLetter:
    """One row of `stream_dead_letters`, with its replays and its record on the DLQ topic."""

    id: int
    group_id: str
    app: str
    topic: str
    partition: int
    offset: int
    record_key: str | None
    event_id: str | None
    event_name: str | None
    tenant_id: str | None
    error: str
    attempts: int
    created_at: datetime
    headers: Mapping[str, str] = field(default_factory=dict)
    raw_value: bytes | None = None
    event: Mapping[str, Any] | None = None
    replays: tuple[Mapping[str, Any], ...] = ()
    dlq_position: tuple[int, int] | None = None  # (partition, offset) on nmc.dlq.<group>

    @property
    def source(self) -> str:
        """`topic:partition:offset` of the failed record (the `dlq_source` header)."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def replay_of(self) -> int | None:
        """The dead letter this one came from when a replay failed again."""
        value = self.headers.get("nmc_replay_of")
        return int(value) if value and value.isdigit() else None

    def summary(self) -> dict[str, Any]:
        """The `list --json` object."""
        return {
            "id": self.id, "group": self.group_id, "app": self.app, "source": self.source,
            "key": self.record_key, "event_id": self.event_id, "event_name": self.event_name,
            "tenant_id": self.tenant_id, "error": self.error, "attempts": self.attempts,
            "created_at": self.created_at.isoformat(), "replay_of": self.replay_of,
            "replays": len(self.replays),
            "dlq_topic_position": list(self.dlq_position) if self.dlq_position else None,
        }

    def detail(self) -> dict[str, Any]:
        """The `show --json` object: the summary plus headers, event and replay history."""
        return {
            **self.summary(),
            "headers": dict(self.headers),
            "event": self.event,
            "raw_value_hex": self.raw_value.hex() if self.raw_value is not None else None,
            "replays": [dict(r) for r in self.replays],
        }


def replay_order(letters: Iterable[DeadLetter]) -> list[DeadLetter]:
    """The order to send: per key, as the events happened (the `occurred_at` header, then the
    position they failed at, then the dead-letter id). Every record of a key goes to one
    partition of the replay topic, so sending in this order keeps it for the app."""
    return sorted(letters, key=lambda d: (d.record_key or "", d.headers.get("occurred_at", ""),
                                          d.topic, d.partition, d.offset, d.id))


def replay_headers(letter: DeadLetter, operator: str) -> list[tuple[str, str | bytes | None]]:
    """The original headers (none of the `dlq_*` ones), plus which dead letter it replays and
    who sent it: a replay that fails again is dead-lettered with them, traceable to its origin."""
    skip = set(DLQ_HEADERS) | set(REPLAY_HEADERS)
    headers: list[tuple[str, str | bytes | None]] = [
        (k, v.encode()) for k, v in letter.headers.items() if k not in skip]
    return [*headers, ("nmc_replay_of", str(letter.id).encode()),
            ("nmc_replayed_by", operator.encode())]


def not_found(wanted: Sequence[int], found: Iterable[int]) -> list[int]:
    """Ids asked for that are not in the table (so the operator learns of a typo)."""
    have = set(found)
    return [i for i in wanted if i not in have]
