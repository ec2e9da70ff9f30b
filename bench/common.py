"""Shared bench plumbing: the stack, a throwaway database, percentiles."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pydantic import SecretStr
from rich.console import Console

from nmc.bootstrap import prepare
from nmc.infra.settings import Settings, get_settings
from nmc.stack import ensure_up
from tests.support.databases import scratch_database as fresh_database


def ready_settings(console: Console) -> Settings:
    settings = get_settings()
    ensure_up(settings, console)
    prepare(settings, console)
    return settings


@contextmanager
def scratch_database(settings: Settings, prefix: str = "nmc_bench") -> Iterator[Settings]:
    """Settings pointing at a fresh migrated database, dropped on exit."""
    with fresh_database(settings.database, prefix=prefix) as url:
        yield settings.model_copy(update={"database_url": SecretStr(url)})


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
