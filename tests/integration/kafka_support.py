"""Producing events as the relay does (Avro through the registry, murmur2, headers, event-time
timestamps), for tests that read them back with consumers."""

from __future__ import annotations

import threading
import uuid

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext
from support.settings import PlatformSettings as Settings

from nmc.contract.envelope import Envelope, parse_event
from nmc.contract.examples import example_envelopes
from nmc.contract.headers import event_headers
from nmc.contract.schemas import default_catalog
from nmc.infra.kafka_clients import producer_config
from nmc.infra.schema_registry import registry_client, value_serializer


def telephony_events() -> tuple[str, list[Envelope]]:
    """CallDetected then InboundSmsReceived of one fresh conversation, and its key."""
    events = [parse_event(e) for e in example_envelopes(uuid.uuid4(), uuid.uuid4())
              if e["event_name"].startswith("nmc.telephony.")]
    assert [e.event_name for e in events] == ["nmc.telephony.CallDetected",
                                              "nmc.telephony.InboundSmsReceived"]
    return events[0].key, events


def _send(producer: Producer, registry: SchemaRegistryClient, event: Envelope) -> None:
    schema = default_catalog().get(event.event_name, event.major)
    assert schema is not None
    value = value_serializer(registry, schema)(
        event.to_avro(schema), SerializationContext(schema.topic, MessageField.VALUE))
    producer.produce(schema.topic, key=event.key.encode(), value=value,
                     headers=event_headers(event.to_json()),
                     timestamp=int(event.occurred_at.timestamp() * 1000))


def produce(settings: Settings, events: list[Envelope]) -> None:
    producer = Producer(producer_config(settings))
    registry = registry_client(settings)
    try:
        for event in events:
            _send(producer, registry, event)
        assert producer.flush(30) == 0
    finally:
        registry.close()


class BusyWriter(threading.Thread):
    """Another producer on a shared stack: the telephony events of a fresh conversation (so
    every partition of nmc.telephony gets some), flushed, every `pause_s`, until `stop`."""

    def __init__(self, settings: Settings, pause_s: float = 0.1) -> None:
        super().__init__(name="busy-writer", daemon=True)
        self.settings = settings
        self.pause_s = pause_s
        self.delivered = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        producer = Producer(producer_config(self.settings))
        registry = registry_client(self.settings)
        try:
            while not self._halt.is_set():
                _, events = telephony_events()
                for event in events:
                    _send(producer, registry, event)
                assert producer.flush(30) == 0
                self.delivered += len(events)
                self._halt.wait(self.pause_s)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            registry.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(60)
