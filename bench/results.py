"""Benchmark figures as data: `--json PATH` on every bench writes its table, its command and
the machine facts (CPU count, load average, git commit, UTC time) in the format of
docs/performance/*.json, which `nmc docs build` renders into the performance page."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from nmc.infra.settings import PROJECT_ROOT


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """`--json PATH`: also write the figures as data (what docs/performance/ holds)."""
    parser.add_argument("--json", type=Path, metavar="PATH", default=None,
                        help="also write the figures, the command and the machine facts as "
                             "JSON to PATH (see docs/performance/)")


def without_json(argv: Sequence[str]) -> list[str]:
    """The command line minus `--json PATH` (the figures' command, not where they went)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif not arg.startswith("--json="):
            kept.append(arg)
    return kept


def machine_facts() -> dict[str, Any]:
    """Where and when a figure was measured: CPUs, load, commit, UTC time."""
    try:
        commit: str | None = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
            check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=PROJECT_ROOT, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = None, ""
    return {
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "git_commit": commit,
        "git_dirty": bool(dirty),
        "utc_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": sys.version.split()[0],
    }


def table_data(table: Table) -> tuple[list[str], list[list[str]]]:
    """The columns and rows of a printed rich table, as plain text."""
    columns = [Text.from_markup(str(c.header)).plain for c in table.columns]
    cells = [[Text.from_markup(str(v)).plain for v in c.cells] for c in table.columns]
    return columns, [list(row) for row in zip(*cells, strict=True)]


def write_json(path: Path | None, bench: str, columns: Sequence[str],
               rows: Sequence[Sequence[object]], notes: str = "",
               module: str | None = None) -> None:
    """Write one bench run as docs/performance/<bench>.json expects it (no-op without a path);
    `module`: the bench's module when another than `bench` (one module, several benches).

    The page `nmc docs build` renders shows the latest file of each bench; replace the
    committed file with a new run's to update it (history stays in git)."""
    if path is None:
        return
    argv = " ".join(shlex.quote(a) for a in without_json(sys.argv[1:]))
    document = {
        "bench": bench,
        "command": f".venv/bin/python -m bench.{module or bench} {argv}".strip(),
        "source": f"written by `python -m bench.{module or bench} --json`",
        "machine": machine_facts(),
        "columns": list(columns),
        "rows": [[str(v) for v in row] for row in rows],
        "notes": notes,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"figures written to {path}")
