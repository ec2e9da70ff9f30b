"""The in-place restart a stalled worker asks for (the watchdog's second remedy): stop the
graceful way, then re-execute the same command line in the same process."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

_RESTART = threading.Event()


def request_restart() -> None:
    """Stop this worker the graceful way (SIGTERM: its consumer leaves the group, so the next
    incarnation joins with one rebalance, not two) and have `run_worker` re-execute it."""
    _RESTART.set()
    os.kill(os.getpid(), signal.SIGTERM)


def restart_requested() -> bool:
    return _RESTART.is_set()


def restart_in_place() -> None:
    """Replace this process with a fresh worker of the same command line (same pid, so a
    test or supervisor watching it sees one worker). Nothing is lost: offsets only ever
    cover durable batches."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    argv = sys.argv[1:]
    # an injected fault (the watchdog tests) strikes once, not again in the restarted worker
    env = {k: v for k, v in os.environ.items() if not k.startswith("NMC_STREAMS_CRASH_")}
    if sys.argv[0].endswith("__main__.py"):  # started as `python -m nmc_streams`
        argv = ["-m", "nmc_streams", *argv]
    else:
        argv = [sys.argv[0], *argv]
    os.execve(sys.executable, [sys.executable, *argv], env)  # noqa: S606
