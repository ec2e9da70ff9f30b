"""Shared pytest configuration: integration tests are marked by folder; the harness fixtures
(stack, scratch databases) come from tests/support as a plugin."""

from __future__ import annotations

import pytest
from support import waits

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


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Integration tests are marked by folder; under `--dist loadgroup` each integration module
    runs on one worker (module fixtures start things once) unless it names a group shared with
    other modules (ones using the same fixed ports)."""
    for item in items:
        if "tests/integration/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
            if item.get_closest_marker("xdist_group") is None:
                item.add_marker(pytest.mark.xdist_group(item.path.stem))
