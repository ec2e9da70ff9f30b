"""`nmc dlq`: dead letters listed with their DLQ record, replayed after a fix into the group
that failed them (and no other), applied once, per-key order kept; still-poison replays are
dead-lettered again (no loop); purge says how many; every replay is recorded with its operator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from sqlalchemy import Engine, text
from support.settings import PlatformSettings as Settings
from support.streams import (
    IsolatedTopics,
    dump,
    fresh_database,
    history,
    project_in_order,
    start_worker,
    stop_worker,
    wait_caught_up,
    wait_for,
)

from nmc.contract.headers import decode_headers
from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import consumer_config

BUG = """
CREATE FUNCTION refuse_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.tenant_id = '{tenant}' THEN
    RAISE EXCEPTION 'projection bug for tenant %', NEW.tenant_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER projection_bug BEFORE INSERT OR UPDATE ON conv_messages
  FOR EACH ROW EXECUTE FUNCTION refuse_tenant();
"""


def nmc_dlq(database_url: str, *args: str, code: int = 0) -> Any:
    """The real command line, on the test's database; its JSON output."""
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "nmc.cli", "dlq", *args, "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout)


def dead_letters(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT id, topic, headers FROM stream_dead_letters ORDER BY id")).all())


def replay_topic_records(stack: Settings, topic: str) -> list[tuple[str, dict[str, str]]]:
    consumer = Consumer(consumer_config(stack, f"reader-{uuid.uuid4().hex[:8]}"))
    out: list[tuple[str, dict[str, str]]] = []
    try:
        ends = {}
        for p in range(stack.nmc_topic_partitions):
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        while ends:
            msg = consumer.poll(10)
            assert msg is not None, "replay topic shorter than its end offsets"
            if msg.error():
                continue
            out.append(((msg.key() or b"").decode(), decode_headers(msg.headers())))
            if (msg.offset() or 0) + 1 >= ends[msg.partition() or 0]:
                ends.pop(msg.partition() or 0)
    finally:
        consumer.close()
    return out


def test_dead_letters_are_listed_replayed_once_in_order_and_purged(
    stack: Settings, database_url: str, tmp_path: Path
) -> None:
    topics = IsolatedTopics(stack)
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    events = [e for e in history(17, [good, bad], 3) if e.domain in ("telephony", "conversation")]
    prefix = f"test-dlq-{uuid.uuid4().hex[:8]}"
    group = f"{prefix}-conversation"
    sources = [f"nmc.telephony{topics.suffix}", f"nmc.conversation{topics.suffix}"]
    replays = f"nmc.replay.{group}"
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(BUG.format(tenant=bad)))
    with fresh_database(stack) as ref_url:
        reference = make_engine(ref_url)
        project_in_order(reference, "conversation", events)
        expected = dump(reference, "conversation", [good, bad])
        reference.dispose()
    worker = start_worker("conversation", database_url=database_url,
                          topic_suffix=topics.suffix, app_id_prefix=prefix, nmc_home=tmp_path,
                          worker_id="w1", log_path=tmp_path / "conversation.log")
    try:
        topics.publish(events)
        wait_caught_up(stack, group, sources)
        assert dump(engine, "conversation", [good]) == {
            t: [r for r in rows if str(r[0]) == good] for t, rows in expected.items()}
        assert dump(engine, "conversation", [bad]) != {
            t: [r for r in rows if str(r[0]) == bad] for t, rows in expected.items()}
        failed = dead_letters(engine)
        assert failed and all(t in sources for _, t, _ in failed)

        listed = nmc_dlq(database_url, "list", "--group", group)
        assert sorted(d["id"] for d in listed) == [i for i, _, _ in failed]
        assert all(d["dlq_topic_position"] is not None for d in listed)  # joined with the topic
        assert all("projection bug" in d["error"] and d["tenant_id"] == bad for d in listed)
        first = listed[0]["id"]
        shown = nmc_dlq(database_url, "show", str(first))
        assert shown["id"] == first and shown["headers"]["event_id"] == listed[0]["event_id"]
        assert shown["event"]["tenant_id"] == bad

        # replayed while the bug is still there: dead-lettered again, marked, and only once
        sent = nmc_dlq(database_url, "replay", str(first), "--by", "alice")
        assert [r["id"] for r in sent["replayed"]] == [first] and sent["by"] == "alice"
        wait_caught_up(stack, group, [*sources, replays])
        again = [d for d in dead_letters(engine) if d[1] == replays]
        assert len(again) == 1 and again[0][2]["nmc_replay_of"] == str(first)
        time.sleep(3)
        assert len(dead_letters(engine)) == len(failed) + 1  # no loop

        # the fix, then everything not replayed yet (the re-dead-lettered one included)
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER projection_bug ON conv_messages"))
        sent = nmc_dlq(database_url, "replay", "--group", group, "--by", "bob")
        assert len(sent["replayed"]) == len(failed)  # all but the one replayed already
        wait_caught_up(stack, group, [*sources, replays])
        wait_for(lambda: dump(engine, "conversation", [good, bad]) == expected,
                 "the replayed events to be projected", 60)

        # per key, the replay topic holds a key's events in the order they happened
        by_id = {d["id"]: d for d in nmc_dlq(database_url, "list", "--group", group)}
        occurred: dict[tuple[str, str], list[str]] = {}
        for key, headers in replay_topic_records(stack, replays):
            occurred.setdefault((headers["nmc_replayed_by"], key), []).append(
                headers["occurred_at"])
            assert int(headers["nmc_replay_of"]) in by_id
        assert max(len(times) for times in occurred.values()) >= 2
        assert all(times == sorted(times) for times in occurred.values())

        # replaying everything again changes nothing (each event is applied once)
        sent = nmc_dlq(database_url, "replay", "--group", group, "--again", "--by", "carol")
        assert len(sent["replayed"]) == len(failed) + 1
        wait_caught_up(stack, group, [*sources, replays])
        assert dump(engine, "conversation", [good, bad]) == expected
        with engine.connect() as conn:
            who = conn.execute(text("SELECT replayed_by, count(*) FROM dead_letter_replays"
                                    " GROUP BY 1 ORDER BY 1")).all()
        assert who == [("alice", 1), ("bob", len(failed)), ("carol", len(failed) + 1)]

        # purge: by id, then the rest of the group; the replay record stays
        assert nmc_dlq(database_url, "purge", str(first))["purged"] == 1
        missing = nmc_dlq(database_url, "purge", str(first), code=1)
        assert missing["purged"] == 0 and missing["not_found"] == [first]
        assert nmc_dlq(database_url, "purge", "--group", group)["purged"] == len(failed)
        assert nmc_dlq(database_url, "list") == []
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT count(*) FROM dead_letter_replays")).scalar_one()
        assert kept == 2 * len(failed) + 2
    finally:
        stop_worker(worker)
        engine.dispose()
        topics.close()


def test_replay_and_purge_refuse_an_empty_selection(stack: Settings, database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    for command in ("replay", "purge"):
        done = subprocess.run([sys.executable, "-m", "nmc.cli", "dlq", command], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "say which dead letters" in done.stderr
    done = subprocess.run([sys.executable, "-m", "nmc.cli", "dlq", "list", "--older-than", "2x"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "not understood" in done.stderr
