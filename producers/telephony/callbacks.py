"""What every provider callback of the telephony domain does first: store its row once.

A provider (Twilio) retries a callback until it gets a 2xx; the row of a callback is keyed by
the provider's id (a unique column), so a retry finds it stored and the request rolls back as
`Replayed`, answered as a success having written nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from producers.errors import Replayed
from producers.outcomes import HookResult


def insert_once(session: Session, table: Table, key: str, values: Mapping[str, object]) -> None:
    """Insert `values` into `table` unless a row with the same provider id (column `key`,
    unique) is there; then raise `Replayed` (the caller's transaction rolls back)."""
    inserted = session.execute(
        insert(table).values(**values)
        .on_conflict_do_nothing(index_elements=[key])
        .returning(table.c[key])
    ).first()
    if inserted is None:
        raise Replayed(HookResult("replayed", detail=str(values[key])))
