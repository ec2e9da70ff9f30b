"""The reactor dead-letters too: after a fix, `nmc dlq replay` gives the fact back to the
reactions group through `nmc.replay.<group>`, even though that group starts at `latest`, and a
second replay texts nobody twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from reactions_support import reactive_tenant
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings
from support.streams import remove_group

from nmc.contract.dead_letter import replay_topic
from nmc.contract.envelope import new_event
from nmc.demo.local_platform import commit_at_end
from producers.conversation.reactions.consumer import SOURCE_TOPICS
from producers.outbox import OutboxWriter

NOW = datetime.now(UTC).replace(microsecond=0)
CALLER, NUMBER = "+13105551212", "+13105550000"
BUG = """
CREATE FUNCTION refuse_reaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'reaction bug'; END $$;
CREATE TRIGGER reaction_bug BEFORE INSERT ON conversation_reactions
  FOR EACH ROW EXECUTE FUNCTION refuse_reaction();
"""


def _replay(database_url: str, *args: str) -> Any:
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "nmc.cli", "dlq", "replay", *args, "--json"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_reactor_dead_letter_replayed_after_the_fix_queues_one_auto_reply(
    test_settings: Settings, database_url: str, engine: Engine,
    relay_thread: Callable[..., Any], wait_until: Callable[..., None],
) -> None:
    from producers.conversation.reactions.app import run_reactor
    from producers.conversation.reactions.settings import ReactorSettings

    tenant_id = reactive_tenant(
        engine, NUMBER, now=NOW,
        auto_reply_template="Sorry we missed you! {business} will text.")
    with engine.begin() as conn:
        conn.execute(text(BUG))
    group = f"test-dlq-reactions-{uuid.uuid4().hex[:8]}"
    knobs = ReactorSettings(group=group, max_attempts=1, retry_max_s=0.1)
    stop, assigned = threading.Event(), threading.Event()
    commit_at_end(test_settings, group, list(SOURCE_TOPICS))
    reactor = threading.Thread(target=run_reactor, args=(test_settings, knobs, stop, assigned),
                               kwargs={"writer": OutboxWriter()}, daemon=True)
    reactor.start()
    try:
        assert assigned.wait(60), "reactor got no partitions"
        relay_thread(nmc_relay_poll_interval_s=0.2)
        call = new_event("nmc.telephony.CallDetected", tenant_id=tenant_id,
                         correlation_id=uuid.uuid4(), payload={
                             "call_id": str(uuid.uuid4()), "from_phone": CALLER,
                             "to_phone": NUMBER, "reason": "busy", "provider_ref": "CA9"})
        with Session(engine) as s, s.begin():
            OutboxWriter().append(s, call)

        def count(sql: str) -> int:
            with engine.connect() as conn:
                return int(conn.execute(text(sql), {"t": tenant_id}).scalar_one())

        wait_until(lambda: count("SELECT count(*) FROM stream_dead_letters WHERE app ="
                                 " 'reactions' AND tenant_id = CAST(:t AS text)") == 1,
                   "the reactor's dead letter", 120)
        assert count("SELECT count(*) FROM outbound_messages WHERE tenant_id = :t") == 0

        with engine.begin() as conn:  # the fix
            conn.execute(text("DROP TRIGGER reaction_bug ON conversation_reactions"))
        sent = _replay(database_url, "--group", group, "--by", "dana")
        assert len(sent["replayed"]) == 1 and sent["replayed"][0]["topic"] == replay_topic(group)
        wait_until(lambda: count("SELECT count(*) FROM outbound_messages"
                                 " WHERE tenant_id = :t") == 1, "the auto-reply queued", 120)

        again = _replay(database_url, "--group", group, "--again", "--by", "dana")
        assert len(again["replayed"]) == 1
        offset = again["replayed"][0]["offset"]

        def consumed_past_it() -> bool:
            from confluent_kafka import Consumer, TopicPartition

            from nmc.infra.kafka_clients import consumer_config

            consumer = Consumer(consumer_config(test_settings, group))
            try:
                (tp,) = consumer.committed(
                    [TopicPartition(replay_topic(group), again["replayed"][0]["partition"])],
                    timeout=10)
                return bool(tp.offset > offset)
            finally:
                consumer.close()

        wait_until(consumed_past_it, "the second replay to be consumed", 60)
        assert count("SELECT count(*) FROM outbound_messages WHERE tenant_id = :t") == 1
        assert count("SELECT count(*) FROM conversation_reactions WHERE tenant_id = :t"
                     " AND auto_reply = 'queued'") == 1
    finally:
        stop.set()
        reactor.join(timeout=30)
        remove_group(test_settings, group)
