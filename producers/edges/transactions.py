"""One request, one transaction: `run_transaction` runs a domain function in a transaction,
retried on deadlock / serialization failure, with the edge's answers for a provider retry
(`Replayed`: roll back, return its result) and a conflict that outlives the retries (503)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from nmc.infra.retry import is_transient, retry_transient
from producers.errors import Refused, Replayed

log = logging.getLogger(__name__)
T = TypeVar("T")


def _once(engine: Engine, fn: Callable[[Session], T]) -> T:
    """Run `fn` in one transaction; `Replayed` rolls back and returns its result."""
    with Session(engine) as session:
        try:
            with session.begin():
                return fn(session)
        except Replayed as replay:
            return replay.result  # type: ignore[no-any-return]


def run_transaction(engine: Engine, attempts: int, max_wait_s: float,
                    fn: Callable[[Session], T]) -> T:
    """`fn` in one transaction, run again on a deadlock / serialization failure
    (`nmc.infra.retry`); `fn` must therefore be re-runnable: everything it does happens inside
    the transaction. A conflict that outlives the `attempts` answers 503 + Retry-After, never
    a 500."""
    try:
        return retry_transient(lambda: _once(engine, fn), attempts, max_wait_s)
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("transient conflict after %d attempts: %s", attempts, exc)
        raise Refused(503, "concurrent update conflict, retry later", "request",
                      headers={"Retry-After": "1"}) from exc
