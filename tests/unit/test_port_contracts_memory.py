"""The in-memory adapters against the ports' contract suites (tests/support/contracts.py)."""

from __future__ import annotations

from support.contracts import DeadLetterStoreContract, StateStoreContract

from nmc.infra.dead_letters import DeadLetterStore, InMemoryDeadLetters
from nmc_streams.batch import StateStore
from nmc_streams.memory import InMemoryStateStore


class TestInMemoryDeadLetters(DeadLetterStoreContract):
    def store(self) -> DeadLetterStore:
        return InMemoryDeadLetters()


class TestInMemoryStateStore(StateStoreContract):
    def store(self) -> StateStore:
        return InMemoryStateStore()
