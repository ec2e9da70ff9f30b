"""Transient PostgreSQL conflicts are retried inside the request, never answered as a 500.

A deadlock (`40P01`) or serialization failure (`40001`) aborts the whole transaction and says
nothing about the request itself, so the request's transaction function runs again from the
start (it is written to be re-runnable: it reads, decides and writes inside the
transaction). Waits grow exponentially with full jitter (tenacity's `wait_random_exponential`)
and the attempts are bounded (`NMC_EDGE_TX_RETRY_ATTEMPTS`, `NMC_EDGE_TX_RETRY_MAX_S`); when
they run out the edge answers 503 with `Retry-After`, still not a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

DEADLOCK_DETECTED = "40P01"
SERIALIZATION_FAILURE = "40001"
TRANSIENT_SQLSTATES = frozenset({DEADLOCK_DETECTED, SERIALIZATION_FAILURE})


class TransientConflict(Exception):
    """A conflict with concurrent transactions that a fresh attempt resolves."""


def is_transient(exc: BaseException) -> bool:
    """True for a deadlock / serialization failure (by SQLSTATE) or a `TransientConflict`."""
    if isinstance(exc, TransientConflict):
        return True
    if isinstance(exc, DBAPIError):
        return getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES
    return False


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.info("transient conflict, attempt %d: %s", state.attempt_number,
             type(exc).__name__ if exc else "?")


def retry_transient(fn: Callable[[], T], attempts: int, max_wait_s: float) -> T:
    """Run `fn` (one whole transaction) until it succeeds, it fails with a non-transient
    error (raised at once), or `attempts` transient failures (the last one is raised)."""
    retrying = Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.02, max=max_wait_s),
        before_sleep=_log_retry,
        reraise=True,
    )
    return retrying(fn)
