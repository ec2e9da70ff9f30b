"""The relay's ports: what `OutboxRelay` needs from the outbox and from Kafka.

`RelayStore` is met by the PostgreSQL `OutboxStore` (store.py) and by `InMemoryRelayStore`
(memory.py); both pass one contract suite (tests/support/contracts.py). `Publisher` is met by
`KafkaPublisher` (publisher.py) and by `InMemoryPublisher`, so the relay's prefetch and settle
logic is tested without a broker or a database. The row and the errors the relay handles live
here too, so that neither the relay nor an adapter imports another adapter for them.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from producers.relay.outcome import BatchOutcome, RowResult


class StoreUnavailable(RuntimeError):
    """The PostgreSQL session is gone (or cannot be opened); its leases went with it."""


class LeaseLost(StoreUnavailable):
    """The session no longer holds a lane this relay believed it held."""


class TransientPublishError(RuntimeError):
    """The batch could not be published for a reason that may go away (retry with backoff)."""


@dataclass(slots=True)  # read-only by convention: a frozen __init__ costs ~3x more per row
class OutboxRow:
    """A pending row as the relay needs it (ids as canonical text, event time twice)."""

    id: int
    event_id: str
    event_name: str
    schema_version: str
    tenant_id: str
    correlation_id: str
    causation_id: str | None
    occurred_at: str  # RFC3339 UTC, millisecond precision (the header's text)
    occurred_ms: int  # the same instant in epoch milliseconds (Avro value, record timestamp)
    payload: dict[str, Any] | None  # None when fetched with avro_value: see `load_payloads`
    topic: str
    record_key: str
    attempts: int
    created_epoch_s: float  # when the row was written (commit -> ack latency metric)
    lane: int
    avro_value: bytes | None = None  # the framed value the writer stored, if it knew the id
    traceparent: str | None = None  # W3C trace context of the writer's span (optional header)


class RelayStore(Protocol):
    """One relay session on the outbox: membership, lane leases, pending rows, settlement.

    Leases belong to the session: `reset` (or losing the session) drops them, and every call on
    a lost session raises `StoreUnavailable`.
    """

    @property
    def lanes(self) -> Set[int]:
        """The lanes this session believes it holds."""

    @property
    def joined(self) -> bool:
        """Whether `join` ran on the current session (a new session must join again)."""

    @property
    def backend_pid(self) -> int | None:
        """The session's id on the server (logs), None while not connected."""

    def reset(self) -> None:
        """Forget the session and everything it held (leases, membership, wake-ups)."""

    def close(self) -> None: ...

    def join(self) -> None:
        """Count this relay among the live ones and listen for wake-ups."""

    def live_relays(self) -> int:
        """How many relays have joined (each takes a fair share of the lanes)."""

    def try_lease(self, candidates: Sequence[int], limit: int) -> list[int]:
        """Lease up to `limit` free lanes among `candidates`, in that order; returns them."""

    def release(self, lanes: Sequence[int]) -> None: ...

    def verify_leases(self, lanes: set[int]) -> None:
        """Raise `LeaseLost` (and reset) unless the session still holds every lane."""

    def fetch_pending(self, limit: int, in_flight: Sequence[int] = ()) -> list[OutboxRow]:
        """Pending rows of the held lanes in id order, none behind a parked row of its key,
        leaving out `in_flight`; rows with a stored value come without their payload."""

    def load_payloads(self, rows: Sequence[OutboxRow]) -> None:
        """Fill in the payload of rows fetched without one."""

    def settle(self, outcome: BatchOutcome) -> None:
        """Record a batch's outcome at once; only rows still pending change."""

    def delete_published_before(self, seconds: float, limit: int = 10_000) -> int:
        """Retention: drop published/skipped rows older than `seconds`; returns how many."""

    def requeue_due(self) -> list[int]:
        """Put parked rows whose retry time has come back in line; returns their ids."""

    def backlog(self) -> tuple[int, float, int, int]:
        """(pending rows, age of the oldest pending row in s, parked rows, parked rows that
        will be retried)."""

    def wait_for_notify(self, timeout: float) -> bool:
        """Block until a wake-up arrives or `timeout` passes; a wake-up is only a hint."""


class BrokerLink(Protocol):
    """What the publisher last knew of its connection to the brokers."""

    @property
    def connected(self) -> bool: ...


InFlightT = TypeVar("InFlightT")


class Publisher(Protocol[InFlightT]):
    """Turns rows into records, one `RowResult` per row; per partition in the order given.

    `start` produces a batch without waiting (`InFlightT`, the adapter's handle on it), so the
    relay fetches the next batch meanwhile; `finish` waits for the verdicts. Raises
    `TransientPublishError` when nothing of the batch can be sent now.
    """

    @property
    def link(self) -> BrokerLink: ...

    @property
    def encoded(self) -> int:
        """Rows encoded here so far rather than sent from their stored value (a counter)."""

    def stale_without_payload(self, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        """Rows fetched without a payload whose stored value cannot be sent as is."""

    def start(self, rows: Sequence[OutboxRow]) -> InFlightT: ...

    def finish(self, batch: InFlightT) -> list[RowResult]: ...

    def probe(self, timeout_s: float) -> bool:
        """Ask the brokers whether they answer; updates `link`."""

    def close(self) -> None: ...
