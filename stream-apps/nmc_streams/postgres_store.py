"""The PostgreSQL adapter of the projector's `StateStore` port (the in-memory one is
`memory.py`; both pass the contract suite in tests/support/contracts.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from nmc_streams import db
from nmc_streams.batch import Rows, StateWrite


class PostgresStateStore:
    """`StateStore` on the platform database (entity states + read models, one transaction)."""

    def __init__(self, engine: Engine, app: str) -> None:
        self.engine = engine
        self.app = app

    def load(self, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return db.load_states(self.engine, self.app, wanted)

    def write(self, states: StateWrite, rows: Rows) -> None:
        db.write_batch(self.engine, self.app, states, rows)
