"""The one way integration tests wait: until a condition holds, or fail saying what was seen.

Budgets in tests are written for this 2-core machine at rest and multiplied by
`NMC_TEST_TIME_SCALE` (default 1; `make test-stress` runs with 3 under a CPU hog), so a loaded
machine gets more time without any test changing. A wait never asserts speed: it only bounds how
long a broken system is waited for, and on expiry it says what it last saw (the `explain`
callback: offsets, lags, process state) and the tails of the logs of the processes the test
started (`watch_log`; also attached to the failure report by tests/conftest.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

WATCHED_LOGS: list[Path] = []
"""Logs of the processes the running test started (cleared before each test)."""


class WaitExpired(AssertionError):
    """A condition did not hold within its (scaled) budget; the message says what was seen."""


def time_scale() -> float:
    raw = os.environ.get("NMC_TEST_TIME_SCALE", "1")
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"NMC_TEST_TIME_SCALE: {raw!r} is not a number") from None
    if scale <= 0:
        raise ValueError(f"NMC_TEST_TIME_SCALE: {raw!r} must be > 0")
    return scale


def scaled(seconds: float) -> float:
    """A budget written for a machine at rest, stretched by NMC_TEST_TIME_SCALE."""
    return seconds * time_scale()


def watch_log(path: Path) -> Path:
    """Name a log whose tail a failed wait (and a failed test) should show."""
    if path not in WATCHED_LOGS:
        WATCHED_LOGS.append(path)
    return path


def log_tails(lines: int = 15) -> str:
    out = []
    for path in WATCHED_LOGS:
        try:
            tail = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError as exc:
            tail = [f"(unreadable: {exc})"]
        out.append(f"--- last {len(tail)} lines of {path} ---\n" + "\n".join(tail))
    return "\n".join(out)


def wait_until(
    predicate: Callable[[], bool],
    what: str,
    timeout: float = 60.0,
    *,
    explain: Callable[[], str] | None = None,
    interval_s: float = 0.1,
) -> None:
    """Poll `predicate` until true; after `timeout` s (scaled) raise WaitExpired naming `what`,
    the last observation of `explain` and the watched logs' tails."""
    budget = scaled(timeout)
    deadline = time.monotonic() + budget
    while not predicate():
        if time.monotonic() > deadline:
            seen = ""
            if explain is not None:
                try:
                    seen = f"\nlast seen: {explain()}"
                except Exception as exc:  # the explanation must not hide the expiry
                    seen = f"\nlast seen: (explain failed: {exc!r})"
            tails = log_tails()
            raise WaitExpired(
                f"timed out after {budget:.0f}s (NMC_TEST_TIME_SCALE={time_scale():g}) waiting "
                f"for {what}{seen}" + (f"\n{tails}" if tails else "")
            )
        time.sleep(interval_s)
