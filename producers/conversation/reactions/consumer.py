"""`ConversationReactor`: consumes telephony and conversation facts and reacts to them.

Batched: it takes what the consumer has (up to `batch_max`, waiting at most `batch_wait_s`
after the first record), writes the batch's reactions in one transaction (two when the batch
holds a missed call and other conversations' facts: the missed calls' conversations first,
so their auto-replies do not wait for the rest), then stores the offsets (librdkafka commits
stored offsets). At-least-once: a crash before the last commit redelivers the batch; a
redelivered fact is harmless, its effects carry deterministic ids and the memory row says
what was already decided. A failing transaction is replayed fact by fact, each fact retried
with exponential backoff and full jitter and then sent to `nmc.dlq.<group>` and the
dead-letter table alone; the partition keeps flowing.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tenacity import Retrying, stop_after_attempt, wait_random_exponential

from nmc.contract.dead_letter import dlq_headers, dlq_topic, replay_topic
from nmc.contract.facts import PoisonEvent
from nmc.contract.headers import TRACEPARENT, decode_headers, header
from nmc.contract.payload import to_json_value
from nmc.contract.schemas import topic_for
from nmc.infra.dead_letters import DeadLetterStore, PostgresDeadLetters
from producers.conversation.reactions.apply import react, react_batch
from producers.conversation.reactions.decide import HANDLED, Trigger, missed_calls_first
from producers.conversation.reactions.metrics import ReactorMetrics
from producers.outbox import OutboxWriter

log = logging.getLogger(__name__)
SOURCE_TOPICS = (topic_for("telephony"), topic_for("conversation"))


def to_trigger(value: Any, traceparent: str | None = None) -> Trigger:
    """The typed trigger of a decoded record; `PoisonEvent` when it is not a usable envelope.
    `traceparent`: the record's optional trace context header, continued by the reaction.

    What `nmc.contract.facts.to_fact` reads, and refused where it refuses, but the ids and the
    event time stay the UUIDs and the datetime fastavro decoded (to_fact turns them into text,
    which this would parse back: a fifth of the reactor's CPU per fact)."""
    if not isinstance(value, Mapping):
        raise PoisonEvent(f"value is not an Avro record but {type(value).__name__}")
    try:
        name = str(value["event_name"])
        ids = [_uuid(value[k]) for k in ("event_id", "tenant_id", "correlation_id")]
        occurred, payload = value["occurred_at"], value["payload"]
        if isinstance(occurred, datetime):  # fastavro's timestamp-millis: aware UTC, in ms
            if occurred.tzinfo is None:
                raise PoisonEvent("naive datetime in event")
            occurred_at = occurred.astimezone(UTC).replace(
                microsecond=occurred.microsecond // 1000 * 1000)
        else:
            occurred_at = datetime.fromisoformat(str(occurred).replace("Z", "+00:00"))
    except (KeyError, TypeError) as exc:
        raise PoisonEvent(f"record lacks envelope field {exc}") from exc
    except ValueError as exc:
        raise PoisonEvent(f"not an event envelope: {exc}") from exc
    if not name.startswith("nmc."):
        raise PoisonEvent(f"not an nmc event: {name!r}")
    return Trigger(event_id=ids[0], name=name, tenant_id=ids[1], correlation_id=ids[2],
                   occurred_at=occurred_at,
                   payload=(to_json_value(payload, fixed_millis=True)
                            if isinstance(payload, Mapping) else {}),
                   traceparent=traceparent)


def _uuid(value: Any) -> UUID:
    return value if type(value) is UUID else UUID(str(value))


class ConversationReactor:
    def __init__(
        self,
        consumer: Consumer,
        decode: Callable[[bytes], Any],
        engine: Engine,
        dlq: Producer,
        group_id: str,
        max_attempts: int,
        retry_max_s: float,
        metrics: ReactorMetrics | None = None,
        dead_letters: DeadLetterStore | None = None,
        *,
        batch_max: int = 1000,
        batch_wait_s: float = 0.0,
        topics: tuple[str, ...] = SOURCE_TOPICS,
        crash_after_batches: int = 0,
        crash_point: str = "after-commit",
        writer: OutboxWriter,
    ) -> None:
        """`writer`: the outbox writer of the reactions' events (its root's, configured from
        `OutboxSettings`)."""
        self._writer = writer
        self._consumer = consumer
        self._decode = decode  # bytes -> record (`nmc.infra.avro_decoder`)
        self._engine = engine
        self._dlq = dlq
        self._dead_letters = dead_letters or PostgresDeadLetters(engine)
        self._group_id = group_id
        self._max_attempts = max_attempts
        self._retry_max_s = retry_max_s
        self.metrics = metrics or ReactorMetrics()
        self._batch_max = batch_max
        self._batch_wait_s = batch_wait_s
        self._topics = topics
        self._crash_after = crash_after_batches
        self._crash_point = crash_point
        self._batches = 0

    def handle(self, msg: Message) -> str:
        """Process one record; returns applied | ignored | dead-lettered. Never raises."""
        headers = decode_headers(msg.headers())
        if headers.get("event_name") not in HANDLED:
            return "ignored"  # filtered by header, without decoding (DESIGN.md §2)
        error, attempts, actions = "", 0, []
        try:
            fact = to_trigger(self._decode(msg.value() or b""), headers.get("traceparent"))
        except Exception as exc:  # undecodable: retrying cannot help
            return self._dead_letter(msg, headers, f"permanent: {exc}", 1)
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=wait_random_exponential(multiplier=0.1, max=self._retry_max_s),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    with Session(self._engine) as session, session.begin():
                        actions = react(session, fact, self._writer)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("fact %s failed %d times: %s", fact.event_id, attempts, error)
            return self._dead_letter(msg, headers, error, attempts)
        self.metrics.decided(actions)
        return "applied" if actions else "ignored"

    def handle_batch(self, msgs: list[Message]) -> list[str]:
        """Process records in a transaction or two; outcome per record (as `handle`). Never
        raises.

        The conversations with a missed call go first, in a transaction of their own
        (`missed_calls_first`): under load the auto-reply waits for a few facts, not for the
        whole batch. Undecodable records are dead-lettered alone first; if a transaction
        fails, every fact of it goes through `handle` (its own retries, then the dead-letter
        path), so one poison fact cannot hold the others back.
        """
        outcomes = ["ignored"] * len(msgs)
        headers = [msg.headers() for msg in msgs]
        names = [header(raw, "event_name") for raw in headers]
        for part in missed_calls_first([(name, msg.key())
                                        for name, msg in zip(names, msgs, strict=True)]):
            self._apply(msgs, headers, names, part, outcomes)
        return outcomes

    def _apply(self, msgs: list[Message], headers: list[Any], names: list[str | None],
               part: list[int], outcomes: list[str]) -> None:
        """Decode and apply the records `part` of the batch in one transaction."""
        facts: list[tuple[int, Trigger]] = []
        for i in part:
            if (names[i] or "") not in HANDLED:
                continue  # filtered by header, without decoding (DESIGN.md §2)
            msg = msgs[i]
            try:
                facts.append((i, to_trigger(self._decode(msg.value() or b""),
                                            header(headers[i], TRACEPARENT))))
            except Exception as exc:  # undecodable: retrying cannot help
                outcomes[i] = self._dead_letter(msg, decode_headers(headers[i]),
                                                f"permanent: {exc}", 1)
        if not facts:
            return
        try:
            with Session(self._engine) as session, session.begin():
                results = react_batch(session, [fact for _, fact in facts], self._writer)
        except Exception as exc:
            log.warning("batch of %d facts failed (%s: %s); replaying it fact by fact",
                        len(facts), type(exc).__name__, exc)
            self.metrics.batches_replayed.inc()
            for i, _ in facts:
                outcomes[i] = self.handle(msgs[i])
            return
        for (i, _), actions in zip(facts, results, strict=True):
            outcomes[i] = "applied" if actions else "ignored"
            self.metrics.decided(actions)  # after the commit: a replayed batch counts once

    def _take(self) -> list[Message]:
        """The next batch: blocks for the first record (0.5 s at most), then takes what the
        consumer already holds, waiting `batch_wait_s` at most for the rest."""
        first = self._consumer.poll(0.5)
        if first is None:
            return []
        batch = [first]
        if self._batch_max > 1:
            batch += self._consumer.consume(self._batch_max - 1, self._batch_wait_s)
        good = []
        for msg in batch:
            if msg.error():
                log.warning("consumer error: %s", msg.error())
            else:
                good.append(msg)
        return good

    def _crash_here(self, point: str) -> None:
        """Fault injection for the kill tests: a real SIGKILL at a chosen point of a batch."""
        if self._batches == self._crash_after and self._crash_point == point:
            os.kill(os.getpid(), signal.SIGKILL)

    def _store(self, msgs: list[Message]) -> None:
        """Store the next offset of every partition in the batch (after its effects)."""
        last: dict[tuple[str, int], int] = {}
        for msg in msgs:
            key = (msg.topic() or "", msg.partition() or 0)
            last[key] = max(last.get(key, -1), msg.offset() or 0)
        try:
            self._consumer.store_offsets(offsets=[
                TopicPartition(topic, partition, offset + 1)
                for (topic, partition), offset in last.items()])
        except KafkaException as exc:  # revoked meanwhile: its next owner redelivers (harmless)
            log.warning("offsets not stored (%s); the batch will be delivered again", exc)

    def _dead_letter(self, msg: Message, headers: dict[str, str], error: str,
                     attempts: int) -> str:
        extra = dlq_headers(headers, error=error, attempts=attempts, group_id=self._group_id,
                            topic=msg.topic() or "", partition=msg.partition() or 0,
                            offset=msg.offset() or 0)
        self._dlq.produce(dlq_topic(self._group_id), key=msg.key(), value=msg.value(),
                          headers=list(extra.items()))
        if self._dlq.flush(30) != 0:
            raise RuntimeError("dead-letter topic did not acknowledge; not skipping the record")
        self._dead_letters.record({
            "group_id": self._group_id, "app": "reactions", "topic": msg.topic(),
            "partition": msg.partition(), "offset": msg.offset(),
            "record_key": (msg.key() or b"").decode(errors="replace"),
            "event_id": headers.get("event_id"), "event_name": headers.get("event_name"),
            "tenant_id": headers.get("tenant_id"), "event": None, "raw_value": msg.value(),
            "headers": headers, "error": error, "attempts": attempts,
        })
        self.metrics.dead_lettered.inc()
        return "dead-lettered"

    def run(self, stop: threading.Event, assigned: threading.Event | None = None) -> None:
        """Consume until `stop`; `assigned` is set once partitions are assigned."""

        replays = replay_topic(self._group_id)

        def on_assign(consumer: Consumer, partitions: list[Any]) -> None:
            # Replays are events an operator chose to send again: never skip them, even on a
            # group that starts at `latest` on the domain topics (no texts about old calls).
            ours = [p for p in partitions if p.topic == replays]
            committed = consumer.committed(ours, timeout=10) if ours else []
            fresh = [p for p in committed if p.offset < 0]
            if fresh:
                start = {(p.topic, p.partition) for p in fresh}
                for p in partitions:
                    if (p.topic, p.partition) in start:
                        p.offset = OFFSET_BEGINNING
                consumer.assign(partitions)
            if assigned is not None:
                assigned.set()

        self._consumer.subscribe([*self._topics, replays], on_assign=on_assign)
        try:
            while not stop.is_set():
                msgs = self._take()
                self.metrics.last_turn = time.monotonic()
                if not msgs:
                    continue
                started = time.perf_counter()
                self._batches += 1
                self._crash_here("before-write")
                for outcome, n in Counter(self.handle_batch(msgs)).items():
                    self.metrics.facts.labels(outcome).inc(n)
                self._crash_here("after-commit")
                self._store(msgs)
                self._crash_here("after-store")
                self.metrics.batch_seconds.observe(time.perf_counter() - started)
        finally:
            self._consumer.close()
