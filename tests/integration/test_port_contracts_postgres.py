"""The PostgreSQL adapters against the ports' contract suites (tests/support/contracts.py),
each test on its own fresh database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from support.contracts import DeadLetterStoreContract, StateStoreContract

from nmc.infra.dead_letters import DeadLetterStore, PostgresDeadLetters
from nmc_streams.batch import StateStore
from nmc_streams.runtime import PostgresStateStore


class TestPostgresDeadLetters(DeadLetterStoreContract):
    @pytest.fixture(autouse=True)
    def _engine(self, engine: Engine) -> None:
        self.engine = engine

    def store(self) -> DeadLetterStore:
        return PostgresDeadLetters(self.engine)


class TestPostgresStateStore(StateStoreContract):
    @pytest.fixture(autouse=True)
    def _engine(self, engine: Engine) -> None:
        self.engine = engine

    def store(self) -> StateStore:
        return PostgresStateStore(self.engine, "conversation")
