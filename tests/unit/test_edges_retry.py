"""The edges' transient-conflict retry policy (pure logic: no database)."""

from __future__ import annotations

import psycopg.errors
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from nmc.infra.retry import TransientConflict, is_transient, retry_transient


def _deadlock() -> OperationalError:
    return OperationalError("UPDATE threads", None, psycopg.errors.DeadlockDetected("deadlock"))


def test_deadlocks_and_serialization_failures_are_transient() -> None:
    assert is_transient(_deadlock())
    assert is_transient(OperationalError(
        "x", None, psycopg.errors.SerializationFailure("could not serialize")))
    assert is_transient(TransientConflict("thread changed"))
    assert not is_transient(IntegrityError("x", None, psycopg.errors.UniqueViolation("dup")))
    assert not is_transient(ValueError("bad"))


def test_a_transient_failure_is_retried_until_it_succeeds() -> None:
    calls = []

    def tx() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _deadlock()
        return "committed"

    assert retry_transient(tx, attempts=5, max_wait_s=0.01) == "committed"
    assert len(calls) == 3


def test_retries_are_bounded_and_other_errors_are_not_retried() -> None:
    calls = []

    def always_deadlocks() -> None:
        calls.append(1)
        raise _deadlock()

    with pytest.raises(OperationalError):
        retry_transient(always_deadlocks, attempts=4, max_wait_s=0.01)
    assert len(calls) == 4

    def refuses() -> None:
        calls.append(1)
        raise ValueError("not transient")

    calls.clear()
    with pytest.raises(ValueError):
        retry_transient(refuses, attempts=4, max_wait_s=0.01)
    assert len(calls) == 1
