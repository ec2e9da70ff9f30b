"""Waiting for a launched service to become healthy, failing fast when it dies."""

from __future__ import annotations

import time

from nmc.stack import pidfile
from nmc.stack.errors import StackError
from nmc.stack.model import Say, Starting
from nmc.stack.procs import last_line


def until_healthy(job: Starting, timeout_s: float, say: Say, started: float) -> None:
    """Poll `job.healthy` until it answers, the process exits, or `timeout_s` passes."""
    deadline = started + timeout_s
    while True:
        if job.healthy():
            say(f"{job.name} healthy in {time.monotonic() - started:.1f} s")
            for step in job.after:
                step()
            return
        code = job.popen.poll() if job.popen is not None else None
        if code is not None or not pidfile.is_alive(job.record):
            pidfile_note = f"exit code {code}" if code is not None else "process vanished"
            raise StackError(
                job.name,
                f"exited early ({pidfile_note}): {last_line(*job.logs)}",
                job.logs[0],
            )
        if time.monotonic() > deadline:
            raise StackError(
                job.name,
                f"not healthy after {timeout_s:.0f} s (nmc_start_timeout_s);"
                f" last log line: {last_line(*job.logs)}",
                job.logs[0],
            )
        time.sleep(0.5)
