"""Longest groups first: the order in which pytest-xdist hands out integration modules.

Under `--dist loadgroup` each integration module (or named group of modules) runs on one
worker, and a worker takes the next group when it runs dry. Handed out in collection order, a
long group that comes last (the stream faults, the Connect tests) keeps one worker busy while
the other idles; handed out longest first, the workers finish together (`make test` passes
`--no-loadscope-reorder`, so xdist keeps this order instead of sorting by test count).

The weights are the seconds each module took in a measured run (`module_seconds.json` beside
the tests); a module not listed weighs nothing and keeps its place after the weighed ones.
Refresh them from a run's `--durations=0` output:

    .venv/bin/pytest -n 2 --dist loadgroup -m "integration and not serial" --durations=0 \\
        | tee /tmp/run.log
    PYTHONPATH=tests .venv/bin/python -m support.schedule /tmp/run.log
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

WEIGHTS = Path(__file__).resolve().parents[1] / "module_seconds.json"
_DURATION = re.compile(r"^([0-9.]+)s (?:call|setup|teardown)\s+(\S+?)::")


def module_seconds(durations_output: str) -> dict[str, float]:
    """Seconds per test module (setup, call and teardown summed) from pytest's durations."""
    seconds: dict[str, float] = defaultdict(float)
    for line in durations_output.splitlines():
        if match := _DURATION.match(line.strip()):
            seconds[Path(match[2]).stem] += float(match[1])
    return {module: round(s, 1) for module, s in sorted(seconds.items())}


def group_of(item: pytest.Item) -> str:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return item.nodeid
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


def longest_groups_first(items: list[pytest.Item], weights: dict[str, float]) -> None:
    """Reorder `items` in place: groups by their modules' summed weight, heaviest first; the
    order within a group, and among groups of equal weight, stays as collected."""
    modules: dict[str, set[str]] = defaultdict(set)
    for item in items:
        modules[group_of(item)].add(item.path.stem)
    weight = {group: sum(weights.get(m, 0.0) for m in ms) for group, ms in modules.items()}
    position = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (-weight[group_of(item)], position[id(item)]))


def load_weights() -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads(WEIGHTS.read_text()).items()}
    except FileNotFoundError:
        return {}


def main() -> None:
    seconds = module_seconds(Path(sys.argv[1]).read_text())
    WEIGHTS.write_text(json.dumps(seconds, indent=1) + "\n")
    print(f"{len(seconds)} modules, {sum(seconds.values()):.0f} s, written to {WEIGHTS}")


if __name__ == "__main__":
    main()
