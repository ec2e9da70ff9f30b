"""Shared bench plumbing: the stack, a throwaway database, percentiles."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import make_url, text

from nmc.bootstrap import prepare
from nmc.settings import Settings, get_settings
from nmc.stack import ensure_up
from producers.db import make_engine, upgrade


def ready_settings(console: Console) -> Settings:
    settings = get_settings()
    ensure_up(settings, console)
    prepare(settings, console)
    return settings


@contextmanager
def scratch_database(settings: Settings, prefix: str = "nmc_bench") -> Iterator[Settings]:
    """Settings pointing at a fresh migrated database, dropped on exit."""
    admin_url = make_url(settings.database)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url.render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield settings.model_copy(update={"database_url": SecretStr(url)})
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
