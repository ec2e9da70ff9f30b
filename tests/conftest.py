"""Shared pytest configuration: integration tests are marked by folder; the harness fixtures
(stack, scratch databases) come from tests/support as a plugin."""

from __future__ import annotations

import pytest

pytest_plugins = ["support.fixtures"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
