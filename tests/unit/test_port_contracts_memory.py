"""The in-memory adapters against the ports' contract suites (tests/support/contracts.py)."""

from __future__ import annotations

from collections.abc import Sequence

from support.contracts import DeadLetterStoreContract, RelayStoreContract, StateStoreContract

from nmc.contract.envelope import Envelope
from nmc.infra.dead_letters import DeadLetterStore, InMemoryDeadLetters
from nmc_streams.batch import StateStore
from nmc_streams.memory import InMemoryStateStore
from producers.relay.memory import InMemoryOutbox, InMemoryRelayStore
from producers.relay.ports import RelayStore


class TestInMemoryDeadLetters(DeadLetterStoreContract):
    def store(self) -> DeadLetterStore:
        return InMemoryDeadLetters()


class TestInMemoryStateStore(StateStoreContract):
    def store(self) -> StateStore:
        return InMemoryStateStore()


class TestInMemoryRelayStore(RelayStoreContract):
    def setup_method(self) -> None:
        self.outbox = InMemoryOutbox()

    def store(self) -> RelayStore:
        return InMemoryRelayStore(self.outbox)

    def append(self, events: Sequence[Envelope], avro_value: bytes | None = None) -> None:
        self.outbox.append(events, avro_value)

    def notify(self) -> None:
        self.outbox.notify()

    def terminate(self, store: RelayStore) -> None:
        assert isinstance(store, InMemoryRelayStore)
        store.terminate()
