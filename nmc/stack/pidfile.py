"""Pid files that identify a process exactly: pid plus its kernel start time.

A bare pid can be reused by an unrelated process after a reboot or a crash; the start time (field
22 of /proc/<pid>/stat) makes `down` stop only what `up` started.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_ticks: int | None = None


def render_pidfile(record: PidRecord) -> str:
    return f"{record.pid} {record.start_ticks if record.start_ticks is not None else ''}".strip()


def parse_pidfile(text: str) -> PidRecord | None:
    """`"<pid> [<start_ticks>]"` -> record; anything malformed is treated as no pid file."""
    parts = text.split()
    if not parts or not parts[0].isdigit() or int(parts[0]) <= 0:
        return None
    ticks = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return PidRecord(pid=int(parts[0]), start_ticks=ticks)


def parse_postmaster_pid(text: str) -> int | None:
    """PostgreSQL's own `postmaster.pid`: the first line is the postmaster's pid."""
    first = text.splitlines()[0].strip() if text.strip() else ""
    return int(first) if first.isdigit() else None


def parse_proc_stat(text: str) -> tuple[str, int] | None:
    """(state, start_ticks) from /proc/<pid>/stat; the comm field may contain spaces and ')'."""
    _, sep, rest = text.rpartition(")")
    fields = rest.split()
    if not sep or len(fields) < 20 or not fields[19].isdigit():
        return None
    return fields[0], int(fields[19])


def read_proc_stat(pid: int) -> tuple[str, int] | None:
    try:
        return parse_proc_stat(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None


def read_cmdline(pid: int) -> list[str]:
    """The command line of a running process (empty when it is gone or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def record_for(pid: int) -> PidRecord:
    stat = read_proc_stat(pid)
    return PidRecord(pid=pid, start_ticks=stat[1] if stat else None)


def is_alive(record: PidRecord) -> bool:
    """Running (not a zombie) and, when we know it, the same process that was recorded."""
    stat = read_proc_stat(record.pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    return record.start_ticks is None or stat[1] == record.start_ticks


def read(path: Path) -> PidRecord | None:
    try:
        return parse_pidfile(path.read_text())
    except OSError:
        return None


def write(path: Path, record: PidRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_pidfile(record) + "\n")
    tmp.replace(path)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
