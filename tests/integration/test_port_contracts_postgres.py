"""The PostgreSQL adapters against the ports' contract suites (tests/support/contracts.py),
each test on its own fresh database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine, text
from support.contracts import DeadLetterStoreContract, RelayStoreContract, StateStoreContract
from support.waits import wait_until

from nmc.contract.envelope import Envelope
from nmc.infra.db import psycopg_dsn
from nmc.infra.dead_letters import DeadLetterStore, PostgresDeadLetters
from nmc_streams.batch import StateStore
from nmc_streams.postgres_store import PostgresStateStore
from producers.outbox import OutboxWriter
from producers.outbox.table import NOTIFY_CHANNEL
from producers.relay.ports import RelayStore
from producers.relay.store import OutboxStore


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


class TestPostgresRelayStore(RelayStoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, engine: Engine, database_url: str) -> Iterator[None]:
        self.engine, self.dsn = engine, psycopg_dsn(database_url)
        self.stores: list[OutboxStore] = []
        yield
        for store in self.stores:
            store.close()

    def store(self) -> RelayStore:
        self.stores.append(OutboxStore(self.dsn))
        return self.stores[-1]

    def append(self, events: Sequence[Envelope], avro_value: bytes | None = None) -> None:
        with self.engine.begin() as conn:
            OutboxWriter(max_future_s=3600, values=None).append_all(conn, events)
            if avro_value is not None:
                conn.execute(text("UPDATE outbox_events SET avro_value = :v "
                                  "WHERE event_id = ANY(:ids)"),
                             {"v": avro_value, "ids": [e.event_id for e in events]})

    def notify(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))

    def terminate(self, store: RelayStore) -> None:
        pid = store.backend_pid
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        def gone() -> bool:
            # a transaction of its own each time: pg_stat_activity is a snapshot taken at its
            # first read in a transaction and kept until the transaction ends
            with self.engine.connect() as conn:
                return not conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                ).scalar_one()

        wait_until(gone, "the terminated backend to exit", interval_s=0.02)
