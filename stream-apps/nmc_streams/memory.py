"""The in-memory adapter of the projector's `StateStore` port (unit tests, the contract suite
in tests/support/contracts.py that every adapter passes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nmc_streams.batch import Rows, StateWrite
from nmc_streams.db import collapse, metadata, primary_key


class InMemoryStateStore:
    """`StateStore` in memory with PostgreSQL's upsert guards; can fail on demand (`fail`
    sees the rows before anything is written, like a failed transaction)."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}
        self.tables: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self.fail: Callable[[Rows], None] | None = None
        self.writes = 0
        self.rows_written = 0

    def load(self, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {k: self.states[k][0] for k in wanted if k in self.states}

    def write(self, states: StateWrite, rows: Rows) -> None:
        if self.fail is not None:
            self.fail(rows)
        unknown = sorted(set(rows) - set(metadata.tables))
        if unknown:  # PostgreSQL refuses the whole transaction: nothing is written
            raise KeyError(f"no read-model table {unknown}")
        self.writes += 1
        for key, (state, version) in states.items():
            if key not in self.states or self.states[key][1] <= version:
                self.states[key] = (state, version)
        for table, table_rows in rows.items():
            self.rows_written += len(table_rows)
            target = self.tables.setdefault(table, {})
            for row in table_rows:
                pk = tuple(row[c] for c in primary_key(table))
                old = target.get(pk)
                target[pk] = dict(row) if old is None else dict(collapse(table, [old, row])[0])

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        return {
            t: sorted((tuple(sorted(r.items())) for r in rows.values()), key=repr)
            for t, rows in self.tables.items()
        }
