"""`make test-stress`: the fault tests (`-m fault`) N times in a row under a CPU hog.

A fault test must land its fault at a point it chose and observed, whatever the speed of the
machine; this is the proof. One busy process per core keeps every core saturated for the whole
run (the Python equivalent of `stress-ng --cpu <cores>`), budgets are stretched by
NMC_TEST_TIME_SCALE (default 3 here), and the table at the end counts passes and failures per
test. Exit status 1 when any run of any test failed.

    .venv/bin/python scripts/stress.py --runs 20            # what `make test-stress` does
    .venv/bin/python scripts/stress.py --runs 3 -k restart   # a subset
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent


def _burn() -> None:
    while True:
        pass


def _outcomes(junit: Path) -> dict[str, str]:
    """test id -> passed / failed / skipped, from one run's JUnit XML."""
    out: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 - our own pytest wrote it
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None or case.find("error") is not None:
            out[name] = "failed"
        elif case.find("skipped") is not None:
            out[name] = "skipped"
        else:
            out[name] = "passed"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("NMC_STRESS_RUNS", 20)))
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2,
                        help="busy processes (default: one per core)")
    parser.add_argument("--time-scale", default=os.environ.get("NMC_TEST_TIME_SCALE", "3"))
    parser.add_argument("-k", dest="keyword", default=None, help="pytest -k expression")
    args = parser.parse_args()

    console = Console()
    hogs = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(args.hogs)]
    for hog in hogs:
        hog.start()
    counts: dict[str, Counter[str]] = {}
    env = {**os.environ, "NMC_TEST_TIME_SCALE": args.time_scale}
    began = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="nmc-stress-") as scratch:
            for run in range(1, args.runs + 1):
                junit = Path(scratch) / f"run-{run}.xml"
                cmd = [sys.executable, "-m", "pytest", "-q", "-m", "fault", "-p",
                       "no:cacheprovider", f"--junitxml={junit}", "tests/integration"]
                if args.keyword:
                    cmd += ["-k", args.keyword]
                console.rule(f"run {run}/{args.runs} under {args.hogs} CPU hogs "
                             f"(NMC_TEST_TIME_SCALE={args.time_scale})")
                subprocess.run(cmd, cwd=ROOT, env=env, check=False)
                if not junit.exists():
                    console.print(f"[red]run {run} wrote no report (collection failed?)")
                    counts.setdefault("(run aborted)", Counter())["failed"] += 1
                    continue
                for name, outcome in _outcomes(junit).items():
                    counts.setdefault(name, Counter())[outcome] += 1
    finally:
        for hog in hogs:
            hog.kill()

    table = Table(title=f"fault tests, {args.runs} runs under {args.hogs} CPU hogs, "
                        f"{(time.monotonic() - began) / 60:.1f} min")
    for column in ("test", "passed", "failed", "skipped"):
        table.add_column(column, justify="left" if column == "test" else "right")
    for name in sorted(counts):
        c = counts[name]
        style = "red" if c["failed"] else None
        table.add_row(name, str(c["passed"]), str(c["failed"]), str(c["skipped"]), style=style)
    console.print(table)
    return 1 if any(c["failed"] for c in counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
