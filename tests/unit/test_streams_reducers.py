"""Reducers + derivations: any permutation with duplicates gives the in-order result."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmc_streams.conversation import state as conversation
from nmc_streams.events import Fact, to_fact
from nmc_streams.metrics import StreamMetrics
from nmc_streams.reporting import state as reporting
from nmc_streams.retry import full_jitter
from nmc_streams.runtime import SPECS, Handler, Record
from nmc_streams.scheduling import state as scheduling
from nmc_streams.settings import StreamSettings
from nmc_streams.state import reduce
from nmc_streams.testing import history

TENANTS = [str(uuid.UUID(int=i + 1, version=4)) for i in range(3)]


def facts_of(seed: int) -> list[Fact]:
    out = []
    for env in history(seed, TENANTS, 3):
        rec: dict[str, Any] = env.to_json()
        rec["occurred_at"] = env.occurred_at
        out.append(to_fact(rec))
    return out


def project(facts: list[Fact], derive: Any) -> dict[str, list[dict[str, Any]]]:
    """What the app writes: per key, the rows of the final state, all tables merged."""
    by_key: dict[str, list[Fact]] = {}
    for f in facts:
        by_key.setdefault(f.key, []).append(f)
    tables: dict[str, list[dict[str, Any]]] = {}
    for key in sorted(by_key):
        state = reduce(by_key[key])
        assert state is not None
        for name, rows in derive(state).items():
            tables.setdefault(name, []).extend(rows)
    return tables


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), perm=st.randoms(use_true_random=False), dup=st.floats(0, 1))
def test_any_order_and_duplicates_converge(seed: int, perm: random.Random, dup: float) -> None:
    ordered = facts_of(seed)
    shuffled = ordered + [f for f in ordered if perm.random() < dup]
    perm.shuffle(shuffled)
    for derive in (conversation.derive, scheduling.derive, reporting.derive):
        assert project(shuffled, derive) == project(ordered, derive)


def _fact(name: str, t: str, payload: dict[str, Any], eid: str | None = None) -> Fact:
    return Fact(eid or str(uuid.uuid4()), name, TENANTS[0], TENANTS[1], t, payload)


def test_delivery_status_never_moves_backwards() -> None:
    m, c = str(uuid.uuid4()), str(uuid.uuid4())
    delivered = _fact(
        "DeliveryUpdated",
        "2025-09-01T10:00:02.000Z",
        {"message_id": m, "status": "delivered", "provider_ref": "SM", "error_code": None},
    )
    sent = _fact(
        "MessageSent",
        "2025-09-01T10:00:00.000Z",
        {"message_id": m, "conversation_id": c, "direction": "out", "status": "queued"},
    )
    state = reduce([delivered, sent])
    assert state is not None
    (row,) = conversation.derive(state)["conv_messages"]
    assert (row["status"], row["direction"]) == ("delivered", "out")


def test_cancel_before_book_is_cancelled_with_booking_details() -> None:
    a, r = str(uuid.uuid4()), str(uuid.uuid4())
    slot = {
        "appointment_id": a,
        "resource_id": r,
        "start": "2025-09-02T17:00:00.000Z",
        "end": "2025-09-02T19:00:00.000Z",
    }
    cancel = _fact(
        "AppointmentCancelled", "2025-09-01T12:00:00.000Z", {**slot, "cancelled_reason": "user"}
    )
    book = _fact(
        "AppointmentBooked",
        "2025-09-01T11:00:00.000Z",
        {**slot, "service_item_id": str(uuid.uuid4()), "customer_phone": "+13105551212"},
    )
    for order in ([cancel, book], [book, cancel]):
        state = reduce(order)
        assert state is not None
        (row,) = scheduling.derive(state)["sched_appointments"]
        assert row["status"] == "cancelled" and row["cancelled_reason"] == "user"
        assert row["customer_phone"] == "+13105551212"


def test_full_jitter_bounds() -> None:
    rng = random.Random(1)
    for attempt in range(1, 12):
        d = full_jitter(attempt, 0.1, 2.0, rng)
        assert 0 <= d <= min(2.0, 0.1 * 2 ** (attempt - 1))


class _Decode:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, raw: bytes) -> Any:
        return self.value


def _handler(project: Any, decode: Any, dlq: list[Any]) -> Handler:
    async def send(record: Record, extra: Any) -> None:
        dlq.append(("kafka", record.offset, dict(extra)))

    async def sleep(_s: float) -> None:
        return None

    return Handler(
        SPECS["conversation"],
        StreamSettings(max_attempts=3),
        "g",
        decode,
        {},
        project,
        lambda row: dlq.append(("db", row["offset"], row["attempts"])),
        send,
        StreamMetrics("conversation"),
        sleep,
    )


def _record(offset: int) -> Record:
    return Record("nmc.conversation", 0, offset, b"k", b"v", {})


def test_handler_retries_then_dead_letters_and_keeps_going() -> None:
    env = history(3, TENANTS[:1], 1)[1]
    rec: dict[str, Any] = env.to_json()
    rec["occurred_at"] = env.occurred_at
    calls: list[int] = []

    def flaky(rows: Any) -> None:
        calls.append(1)
        raise RuntimeError("db down")

    dlq: list[Any] = []
    handler = _handler(flaky, _Decode(rec), dlq)
    assert asyncio.run(handler.handle(_record(7))) == "dead-lettered"
    assert len(calls) == 3
    assert [d[0] for d in dlq] == ["kafka", "db"] and dlq[1][2] == 3
    handler.project = lambda rows: None
    assert asyncio.run(handler.handle(_record(8))) == "applied"
    assert asyncio.run(handler.handle(_record(9))) == "duplicate"


def test_undecodable_record_is_dead_lettered_without_retry() -> None:
    def boom(raw: bytes) -> Any:
        from confluent_kafka.serialization import SerializationError

        raise SerializationError("Invalid magic byte")

    dlq: list[Any] = []
    handler = _handler(lambda rows: None, boom, dlq)
    assert asyncio.run(handler.handle(_record(1))) == "dead-lettered"
    assert dlq[1] == ("db", 1, 1)


@pytest.mark.parametrize("app", sorted(SPECS))
def test_specs_subscribe_to_what_they_reduce(app: str) -> None:
    spec = SPECS[app]
    assert spec.events and spec.domains
