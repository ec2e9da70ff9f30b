"""Unit tests are hermetic: settings never pick up the developer's or CI's environment."""

from __future__ import annotations

import os

import pytest

_SETTING_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "DATABASE_URL")


@pytest.fixture(autouse=True)
def _clean_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name in _SETTING_VARS or name.startswith("NMC_"):
            monkeypatch.delenv(name)
