"""Shared pytest configuration: integration tests are marked by folder; the harness fixtures
(stack, scratch databases) come from tests/support as a plugin."""

from __future__ import annotations

import pytest
from support import waits
from support.schedule import load_weights, longest_groups_first

pytest_plugins = ["support.fixtures"]


@pytest.fixture(autouse=True)
def _watched_logs() -> None:
    waits.WATCHED_LOGS.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A failed test's report carries the tails of the logs of the processes it started, so CI
    output alone explains it."""
    report = yield
    if report.failed and waits.WATCHED_LOGS:
        report.sections.append(("logs of the processes this test started", waits.log_tails(40)))
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Integration tests are marked by folder; under `--dist loadgroup` each integration module
    runs on one worker (module fixtures start things once) unless it names a group shared with
    other modules (ones using the same fixed ports); the longest groups are handed out first
    (support.schedule)."""
    loadgroup = bool(getattr(config.option, "loadgroup", False))
    for item in items:
        if "tests/integration/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
            if item.get_closest_marker("serial") is not None:
                # one worker runs them one after another, beside the unit tests (make test)
                item.add_marker(pytest.mark.xdist_group("serial"))
            elif item.get_closest_marker("xdist_group") is None:
                item.add_marker(pytest.mark.xdist_group(item.path.stem))
        if loadgroup:
            _suffix_group(item)
    if loadgroup:
        longest_groups_first(items, load_weights())


def _suffix_group(item: pytest.Item) -> None:
    """What pytest-xdist's loadgroup does to a node id (`<id>@<group>`, the unit it schedules on
    one worker), done here because xdist 3.8 writes `item._nodeid`, which pytest 9 no longer
    reads (ids live in `item._id`): without this every test is scheduled alone and two CDC
    tests started two Connect workers at once."""
    from _pytest.nodeid import coerce_node_id

    mark = item.get_closest_marker("xdist_group")
    if mark is None or "@" in item.nodeid.rsplit("]", 1)[-1]:
        return
    group = mark.args[0] if mark.args else mark.kwargs.get("name", "default")
    item._id = coerce_node_id(f"{item.nodeid}@{group}")  # type: ignore[attr-defined]
