"""The Kafka side of `nmc dlq`: find dead letters on `nmc.dlq.<group>`, send replays."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from nmc.contract.dead_letter import dlq_topic, replay_topic
from nmc.contract.headers import decode_headers
from nmc.dlq.model import DeadLetter, DlqError, replay_headers
from nmc.infra.kafka_clients import consumer_config, ensure_topics, producer_config
from nmc.infra.settings import ServiceSettings


def dlq_positions(settings: ServiceSettings, groups: Iterable[str],
                  timeout_s: float = 10.0) -> dict[tuple[str, str], tuple[int, int]]:
    """(group, dlq_source) → (partition, offset) of every record on the groups' DLQ topics.

    Reads each topic from its beginning to its current end without joining a group (assign,
    no commits), so it changes nothing for anybody."""
    found: dict[tuple[str, str], tuple[int, int]] = {}
    consumer = Consumer(consumer_config(settings, "nmc-dlq-inspect",
                                        **{"enable.auto.offset.store": False}))
    try:
        for group in sorted(set(groups)):
            topic = dlq_topic(group)
            meta = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
            if meta is None or meta.error is not None:
                continue
            ends: dict[int, int] = {}
            for p in meta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                           timeout=timeout_s)
                if high > low:
                    ends[p] = high
            if not ends:
                continue
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
            while ends:
                msg = consumer.poll(timeout_s)
                if msg is None:
                    raise DlqError(f"{topic}: no record within {timeout_s}s before its end")
                if msg.error():
                    continue
                partition, offset = msg.partition() or 0, msg.offset() or 0
                source = decode_headers(msg.headers()).get("dlq_source")
                if source:
                    found.setdefault((group, source), (partition, offset))
                if offset + 1 >= ends.get(partition, 0):
                    ends.pop(partition, None)
            consumer.unassign()
    except KafkaException as exc:
        raise DlqError(f"Kafka at {settings.kafka} cannot be read: {exc}") from exc
    finally:
        consumer.close()
    return found


def send_replays(settings: ServiceSettings, letters: Sequence[DeadLetter], operator: str,
                 on_acked: Callable[[DeadLetter, str, int, int], None],
                 flush_timeout_s: float = 60.0) -> list[str]:
    """Produce each dead letter (already in replay order) to `nmc.replay.<its group>` with its
    key, original value and headers; `on_acked` runs per acknowledged record. Returns the
    errors of records Kafka refused (those are not recorded as replayed)."""
    ensure_topics(settings, sorted({replay_topic(d.group_id) for d in letters}))
    producer = Producer(producer_config(settings))
    errors: list[str] = []

    def delivered(letter: DeadLetter) -> Callable[..., None]:
        def report(err: object, msg: object) -> None:
            if err is not None:
                errors.append(f"dead letter {letter.id}: {err}")
                return
            on_acked(letter, msg.topic(), msg.partition(), msg.offset())  # type: ignore[attr-defined]
        return report

    for letter in letters:
        if letter.raw_value is None:
            errors.append(f"dead letter {letter.id}: no original value kept; cannot replay")
            continue
        key = letter.record_key.encode() if letter.record_key is not None else None
        while True:
            try:
                producer.produce(replay_topic(letter.group_id), key=key, value=letter.raw_value,
                                 headers=replay_headers(letter, operator),
                                 on_delivery=delivered(letter))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(flush_timeout_s) != 0:
        errors.append(f"Kafka did not acknowledge every replay within {flush_timeout_s}s")
    return errors
