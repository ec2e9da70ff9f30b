"""The stream apps' decisions without Kafka or PostgreSQL: models, batching, failure policy.

An in-memory `StateStore` applies the same upsert guards as PostgreSQL (`db.collapse`), so any
order, any batching and any duplicates must end in the same tables as one-by-one in order.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import SerializationError
from hypothesis import given, settings
from hypothesis import strategies as st
from support.streams import history

from nmc.contract.envelope import new_event
from nmc.contract.facts import Fact, to_fact
from nmc_streams.apps import APPS
from nmc_streams.batch import BatchProjector, Record, Rows, is_transient
from nmc_streams.flows import plan_key
from nmc_streams.memory import InMemoryStateStore
from nmc_streams.metrics import StreamMetrics
from nmc_streams.state import FLOW, Entity

TENANTS = [str(uuid.UUID(int=i + 1, version=4)) for i in range(3)]


def _record(value: Any, offset: int = 0, topic: str = "nmc.x") -> Record:
    return Record(topic, 0, offset, b"k", value, {})  # value: already decoded (identity decode)


def _decoded(env: Any) -> dict[str, Any]:
    rec: dict[str, Any] = env.to_json()
    rec["occurred_at"] = env.occurred_at
    return rec


async def _no_sleep(_s: float) -> None:
    return None


async def _inline(call: Callable[..., Any], *args: Any) -> Any:
    return call(*args)


def _projector(
    app: str, store: InMemoryStateStore, dead: list[Any] | None = None, decode: Any = None
) -> BatchProjector:
    async def sink(record: Record, fact: Fact | None, error: str, attempts: int) -> None:
        if dead is None:
            raise AssertionError(f"unexpected dead letter: {error}")
        dead.append((record.offset, error))

    return BatchProjector(
        app, APPS[app].model, store, decode or (lambda raw: raw), sink, StreamMetrics(app),
        run=_inline, sleep=_no_sleep,
    )


def run_batches(app: str, batches: Sequence[Sequence[Any]]) -> InMemoryStateStore:
    store = InMemoryStateStore()
    projector = _projector(app, store)

    async def go() -> None:
        offset = 0
        for batch in batches:
            records = []
            for value in batch:
                records.append(_record(value, offset))
                offset += 1
            await projector.handle(records)

    asyncio.run(go())
    return store


def decoded_history(seed: int) -> list[dict[str, Any]]:
    return [_decoded(env) for env in history(seed, TENANTS, 3)]


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    perm=st.randoms(use_true_random=False),
    dup=st.floats(0, 1),
    batch=st.integers(1, 40),
)
def test_any_order_batching_and_duplicates_converge(
    seed: int, perm: random.Random, dup: float, batch: int
) -> None:
    ordered = decoded_history(seed)
    shuffled = ordered + [e for e in ordered if perm.random() < dup]
    perm.shuffle(shuffled)
    batches = [shuffled[i : i + batch] for i in range(0, len(shuffled), batch)]
    for app in APPS:
        reference = run_batches(app, [[e] for e in ordered])
        assert run_batches(app, batches).dump() == reference.dump(), app


def test_replaying_everything_changes_nothing() -> None:
    events = decoded_history(5)
    for app in APPS:
        once = run_batches(app, [events])
        twice = run_batches(app, [events, events[::-1]])
        assert twice.dump() == once.dump()


def _conversation(n_messages: int) -> list[dict[str, Any]]:
    tenant, corr, conv = (str(uuid.uuid4()) for _ in range(3))
    t0 = datetime(2025, 9, 1, tzinfo=UTC)
    out = [
        new_event("nmc.conversation.ConversationStarted", tenant_id=tenant, correlation_id=corr,
                  payload={"conversation_id": conv, "caller_phone": "+13105551212"},
                  occurred_at=t0)
    ]
    for i in range(n_messages):
        out.append(
            new_event("nmc.conversation.MessageSent", tenant_id=tenant, correlation_id=corr,
                      payload={"message_id": str(uuid.uuid4()), "conversation_id": conv,
                               "direction": "out", "status": "queued"},
                      occurred_at=t0 + timedelta(seconds=i + 1))
        )
    return [_decoded(e) for e in out]


@pytest.mark.parametrize("app", ["conversation", "reporting"])
def test_work_per_event_does_not_grow_with_the_conversation(app: str) -> None:
    events = _conversation(2000)
    store = InMemoryStateStore()
    projector = _projector(app, store)
    sizes: list[tuple[int, int]] = []  # (rows written, facts held by the entities touched)

    async def go() -> None:
        for offset, value in enumerate(events):
            before = store.rows_written
            await projector.handle([_record(value, offset)])
            fact = to_fact(value)
            key = fact.key
            touched = [FLOW, APPS[app].model.entity_of(fact)]
            held = sum(len(store.states[(key, e)][0]["f"]) for e in set(touched))
            sizes.append((store.rows_written - before, held))

    asyncio.run(go())
    assert sizes[1] == sizes[-1], (sizes[1], sizes[-1])  # the 1st message costs the 2,000th
    if app == "conversation":
        (row,) = store.tables["conv_conversations"].values()
        assert row["message_count"] == 2000 and row["version"] == 2001
    else:
        messages = [r for r in store.tables["rpt_facts"].values() if r["metric"] == "message"]
        assert len(messages) == 2000


def test_delivery_status_never_moves_backwards() -> None:
    tenant, corr, msg = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    t0 = datetime(2025, 9, 1, tzinfo=UTC)

    def upd(status: str, s: int) -> dict[str, Any]:
        return _decoded(new_event(
            "nmc.conversation.DeliveryUpdated", tenant_id=tenant, correlation_id=corr,
            payload={"message_id": msg, "status": status, "provider_ref": "SM1",
                     "error_code": None}, occurred_at=t0 + timedelta(seconds=s)))

    store = run_batches("conversation", [[upd("delivered", 2)], [upd("sent", 1)]])
    (row,) = store.tables["conv_messages"].values()
    assert row["status"] == "delivered"


def test_a_rejected_payload_is_dead_lettered_alone_and_the_batch_proceeds() -> None:
    good = decoded_history(11)
    bad = dict(good[0])
    bad["payload"] = {"nonsense": True}  # the model cannot read it (KeyError)
    bad["event_id"] = str(uuid.uuid4())
    dead: list[Any] = []
    store = InMemoryStateStore()
    projector = _projector("reporting", store, dead)
    outcomes = asyncio.run(projector.handle([_record(v, i) for i, v in enumerate([*good, bad])]))
    assert outcomes[-1] == "dead-lettered" and "KeyError" in dead[0][1]
    assert outcomes[:-1] == ["applied"] * len(good)
    assert store.dump() == run_batches("reporting", [good]).dump()


def test_a_value_postgresql_refuses_is_isolated() -> None:
    class DataError(Exception):
        """Stands for psycopg's DataError (classified by the driver's class name)."""

    def refuse_nul(rows: Rows) -> None:  # what PostgreSQL does with NUL in text
        if any("\x00" in str(v) for table in rows.values() for r in table for v in r.values()):
            raise DataError("invalid byte sequence for encoding UTF8: 0x00")

    events = decoded_history(12)
    i = next(i for i, e in enumerate(events) if e["event_name"].endswith("CallDetected"))
    poison = {**events[i], "payload": {**events[i]["payload"], "provider_ref": "CA\x00"}}
    store = InMemoryStateStore()
    store.fail = refuse_nul
    dead: list[Any] = []
    batch = [*events[:i], poison, *events[i + 1 :]]
    outcomes = asyncio.run(
        _projector("conversation", store, dead).handle([_record(v, n) for n, v in enumerate(batch)])
    )
    assert [d[0] for d in dead] == [i] and "DataError" in dead[0][1]
    assert outcomes.count("dead-lettered") == 1
    store.fail = None
    assert store.dump() == run_batches("conversation", [events[:i] + events[i + 1 :]]).dump()


def test_an_outage_is_retried_until_it_ends_and_nothing_is_dead_lettered() -> None:
    import psycopg

    events = decoded_history(13)
    failures = iter(range(5))

    def flaky(rows: Rows) -> None:
        if next(failures, None) is not None:
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    store = InMemoryStateStore()
    store.fail = flaky
    projector = _projector("scheduling", store, dead=[])
    outcomes = asyncio.run(projector.handle([_record(v, i) for i, v in enumerate(events)]))
    assert "dead-lettered" not in outcomes
    assert store.dump() == run_batches("scheduling", [events]).dump()


def test_failure_classification() -> None:
    import httpx
    import psycopg
    from sqlalchemy.exc import DBAPIError

    assert not is_transient(SchemaRegistryError(404, 40403, "Schema not found"), "decode")
    assert is_transient(SchemaRegistryError(503, -1, "unavailable"), "decode")
    assert is_transient(httpx.ConnectError("refused"), "decode")
    assert not is_transient(SerializationError("Invalid magic byte"), "decode")
    assert not is_transient(EOFError("truncated avro"), "decode")
    assert is_transient(psycopg.OperationalError("connection refused"), "write")
    wrapped = DBAPIError("INSERT", {}, psycopg.errors.DataError("integer out of range"))
    assert not is_transient(wrapped, "write")
    assert not is_transient(KeyError("message_id"), "write")


def test_undecodable_and_unknown_schema_are_dead_lettered_without_retry() -> None:
    calls: list[int] = []

    def decode(raw: Any) -> Any:
        calls.append(1)
        if raw == b"garbage":
            raise SerializationError("Invalid magic byte")
        raise SchemaRegistryError(404, 40403, "Schema 99 not found")

    dead: list[Any] = []
    projector = _projector("conversation", InMemoryStateStore(), dead, decode)
    outcomes = asyncio.run(projector.handle([_record(b"garbage", 0), _record(b"\0id99", 1)]))
    assert outcomes == ["dead-lettered", "dead-lettered"] and len(calls) == 2


def test_plan_is_pure() -> None:
    fact = to_fact(decoded_history(14)[0])
    loaded = {FLOW: Entity()}
    plan_key(APPS["reporting"].model, fact.key, [fact], loaded)
    assert loaded[FLOW].facts == {}


def test_watchdog_sees_partitions_short_of_their_end() -> None:
    from nmc_streams.watchdog import behind

    ends = {"p0": 10, "p1": 5, "p2": 0, "p3": 7}
    committed = {"p0": 10, "p1": 3, "p2": None, "p3": None}
    assert behind(committed, ends) == ["p1", "p3"]


def test_watchdog_ignores_records_retention_already_deleted() -> None:
    """A group committed at 7 on a partition whose log now starts at its end (31) has nothing
    to read: not behind. One committed at 7 with the log starting at 20 of 31 is."""
    from nmc_streams.watchdog import behind

    ends = {"gone": 31, "partly": 31, "none": 5}
    committed = {"gone": 7, "partly": 7, "none": None}
    starts = {"gone": 31, "partly": 20, "none": 5}
    assert behind(committed, ends, starts) == ["partly"]


def test_watchdog_seeks_first_then_restarts_and_forgets_after_progress() -> None:
    from nmc_streams.watchdog import StallWatch

    watch = StallWatch()
    watch.new_assignment(frozenset({"p0"}))
    assert watch.stalled() == "seek"
    assert watch.stalled() == "restart"
    watch.progressing()
    assert watch.stalled() == "seek"
    watch.new_assignment(frozenset({"p0", "p1"}))  # a rebalance starts the count again
    assert watch.stalled() == "seek"
