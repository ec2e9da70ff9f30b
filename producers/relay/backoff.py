"""Waiting for a dependency with exponential backoff and full jitter, saying what we wait for."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_random_exponential,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


def full_jitter(max_backoff_s: float) -> wait_random_exponential:
    """Uniform in [0, min(max, 0.2 s * 2^attempt)]: AWS's "full jitter", so relays that lost
    the same server do not come back in lockstep."""
    return wait_random_exponential(multiplier=0.2, max=max_backoff_s)


def _sleep(stop: threading.Event, seconds: float) -> None:
    stop.wait(seconds)


def _say_waiting(what: str, on_wait: Callable[[str], None] | None) -> Callable[..., None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "waiting for %s (attempt %d failed: %s); next try in %.1fs",
            what, state.attempt_number, " ".join(str(exc).split()) or type(exc).__name__, delay,
        )
        if on_wait is not None:
            on_wait(what)

    return before_sleep


def retrying(
    stop: threading.Event,
    what: str,
    retry_on: tuple[type[BaseException], ...],
    max_backoff_s: float,
    on_wait: Callable[[str], None] | None = None,
) -> Retrying:
    """Retry on `retry_on` with full jitter until `stop` is set (then RetryError), logging
    what we wait for before each sleep. Other exceptions propagate at once."""
    return Retrying(
        retry=retry_if_exception_type(retry_on),
        wait=full_jitter(max_backoff_s),
        stop=stop_when_event_set(stop),
        sleep=lambda seconds: _sleep(stop, seconds),
        before_sleep=_say_waiting(what, on_wait),
        reraise=False,
    )


def until_done(
    stop: threading.Event,
    what: str,
    attempt: Callable[[], T],
    retry_on: tuple[type[BaseException], ...],
    max_backoff_s: float,
    on_wait: Callable[[str], None] | None = None,
) -> tuple[bool, T | None]:
    """Call `attempt` until it succeeds or `stop` is set; returns (succeeded, its result).

    Exceptions outside `retry_on` propagate at once (a misconfiguration is not an outage).
    """
    try:
        return True, retrying(stop, what, retry_on, max_backoff_s, on_wait)(attempt)
    except RetryError:
        return False, None
