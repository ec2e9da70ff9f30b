"""A poison record goes to the DLQ topic and table; later records of its partition flow on."""

from __future__ import annotations

import uuid
from pathlib import Path

from confluent_kafka import Consumer
from sqlalchemy import text
from support.settings import PlatformSettings as Settings
from support.streams import (
    IsolatedTopics,
    dump,
    fresh_database,
    history,
    project_in_order,
    start_worker,
    stop_worker,
    wait_for,
)

from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import consumer_config


def test_poison_event_is_dead_lettered_and_partition_keeps_flowing(
    stack: Settings, database_url: str, tmp_path: Path
) -> None:
    topics = IsolatedTopics(stack)
    tenant = str(uuid.uuid4())
    events = [e for e in history(11, [tenant], 1) if e.domain in ("telephony", "conversation")]
    key = events[0].key
    prefix = f"test-poison-{uuid.uuid4().hex[:8]}"
    group = f"{prefix}-conversation"
    engine = make_engine(database_url)
    worker = start_worker(
        "conversation",
        database_url=database_url,
        topic_suffix=topics.suffix,
        app_id_prefix=prefix,
        nmc_home=tmp_path,
        worker_id="w1",
        log_path=tmp_path / "conversation.log",
    )
    try:
        topics.publish(events[:2])
        topics.publish_raw("conversation", key, b"\x00not avro at all")  # same key: same partition
        topics.publish(events[2:])
        with fresh_database(stack) as ref_url:
            reference = make_engine(ref_url)
            project_in_order(reference, "conversation", events)
            expected = dump(reference, "conversation", [tenant])
            reference.dispose()
        wait_for(
            lambda: dump(engine, "conversation", [tenant]) == expected,
            "events after the poison record to be projected",
            120,
        )

        def dead_letters() -> list[tuple[str, str, int, str]]:
            with engine.connect() as conn:
                return [
                    tuple(r)
                    for r in conn.execute(
                        text(
                            "SELECT group_id, record_key, attempts, error FROM stream_dead_letters"
                        )
                    )
                ]

        wait_for(lambda: len(dead_letters()) == 1, "the dead-letter row", 60)
        (row,) = dead_letters()
        # bytes 1-4 read as a schema id the registry does not know: its 404 is permanent, so
        # the record is dead-lettered on the first attempt, never retried as an outage
        assert row[0] == group and row[1] == key and row[2] == 1
        assert row[3].startswith("permanent: SchemaRegistryError") and "not found" in row[3]

        consumer = Consumer(consumer_config(stack, f"{prefix}-reader"))
        consumer.subscribe([f"nmc.dlq.{group}"])
        found = []
        try:
            wait_for(
                lambda: bool(
                    found.append(consumer.poll(0.5))
                    or [m for m in found if m is not None and not m.error()]
                ),
                "the DLQ record",
                60,
            )
        finally:
            consumer.close()
        (msg,) = [m for m in found if m is not None and not m.error()]
        assert msg.key() == key.encode() and msg.value() == b"\x00not avro at all"
        headers = dict(msg.headers() or [])
        assert headers["dlq_attempts"] == b"1" and headers["dlq_group"] == group.encode()
        assert b"\n" not in headers["dlq_error"] and b"not found" in headers["dlq_error"]
    finally:
        stop_worker(worker)
        engine.dispose()
        topics.close()
