"""Process and port plumbing: detached spawn, graceful stop, port probe, log tail."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path

from nmc.stack import pidfile
from nmc.stack.errors import StackError

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Popen objects of the services we launched, kept referenced for the life of this process: a
# collected Popen of a still-running child warns (ResourceWarning), and the services are meant to
# outlive us.
_LAUNCHED: list[subprocess.Popen[bytes]] = []


@atexit.register
def _detach_on_exit() -> None:
    """At exit those children are left running on purpose: silence Popen's warning about it."""
    warnings.filterwarnings(
        "ignore", message=r"subprocess \d+ is still running", category=ResourceWarning
    )


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_closed(ports: list[int], timeout_s: float = 15.0) -> None:
    """Give a process just killed the moment it can hold its listeners after its pid reads as
    dead (the thread group leader turns zombie before the other threads have exited)."""
    deadline = time.monotonic() + timeout_s
    while any(port_open(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.2)


def require_free(service: str, ports: list[int]) -> None:
    """Fail before starting when another (not our) process already answers on a port."""
    for port in ports:
        if port_open(port):
            raise StackError(
                service,
                f"port 127.0.0.1:{port} is already taken by a process not started by nmc stack"
                " (stop it, or point the matching *_URL/_SERVERS variable at it)",
            )


def require_tool(service: str, tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise StackError(service, f"`{tool}` not found on PATH ({hint})")
    return path


def spawn_detached(
    cmd: list[str], *, out: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start in its own session (survives the CLI), stdout+stderr appended to `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("ab") as sink:
        popen = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            close_fds=True,
        )
    _LAUNCHED.append(popen)
    return popen


def stop(record: pidfile.PidRecord, timeout_s: float) -> bool:
    """SIGTERM, wait up to `timeout_s`, then SIGKILL. True if it had been running."""
    if not pidfile.is_alive(record):
        return False
    _signal(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pidfile.is_alive(record):
            return True
        time.sleep(0.2)
    _signal(record.pid, signal.SIGKILL)
    while pidfile.is_alive(record) and time.monotonic() < deadline + 10:
        time.sleep(0.1)
    return True


def stop_owned(path: Path, name: str, timeout_s: float, say: Callable[[str], None]) -> None:
    """Stop the process of a pid file the stack wrote (a service it never runs external) and
    remove the file; nothing when there is none."""
    record = pidfile.read(path)
    if record is None:
        return
    if pidfile.is_alive(record):
        say(f"stopping {name} (pid {record.pid})...")
        stop(record, timeout_s)
    pidfile.remove(path)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of a text file (empty when it does not exist)."""
    try:
        with path.open("r", errors="replace") as fh:
            return [line.rstrip("\n") for line in deque(fh, maxlen=lines)]
    except OSError:
        return []


def last_line(*paths: Path) -> str:
    """The last non-blank line of the first file that has one, for one-line error messages."""
    for path in paths:
        for line in reversed(tail(path, 50)):
            if line.strip():
                return line.strip()[:300]
    return "(log empty)"


def run_checked(
    service: str, cmd: list[str], *, cwd: Path | None = None, log: Path | None = None,
    attempts: int = 1,
) -> str:
    """Run a short command; on failure raise with the last line of its output. `attempts` > 1
    runs it again after a failure (downloads: a registry or the local Maven repository being
    written by another build can fail a run that the next one passes)."""
    for attempt in range(1, attempts + 1):
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
        output = (proc.stdout or "") + (proc.stderr or "")
        if proc.returncode == 0:
            return output
        if attempt < attempts:
            time.sleep(2 * attempt)
    raise StackError(
        service, f"`{Path(cmd[0]).name}` exited {proc.returncode}: {last_meaningful(output)}", log
    )


def last_meaningful(output: str) -> str:
    """The last line with text once terminal colour codes are gone (Maven's -q output ends
    with bare resets), at most 300 characters."""
    lines = [ANSI.sub("", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    return lines[-1][:300] if lines else "(no output)"
