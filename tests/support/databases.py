"""Scratch databases: a fresh, fully migrated PostgreSQL database per test or bench run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import DBAPIError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from nmc.infra.db import make_engine, upgrade


@contextmanager
def scratch_database(url: str, prefix: str = "nmc_scratch") -> Iterator[str]:
    """A fresh, fully migrated database next to `url`'s, dropped on exit.

    The role of `url` needs CREATEDB (the local stack's `nmc` role has it)."""
    admin_url = make_url(url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(admin_url.render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        scratch = admin_url.set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(scratch)
            yield scratch
        finally:
            _drop_database(admin, name)
    finally:
        admin.dispose()


@retry(stop=stop_after_attempt(5), wait=wait_random_exponential(multiplier=0.2, max=2),
       retry=retry_if_exception_type(DBAPIError), reraise=True)
def _drop_database(admin: Engine, name: str) -> None:
    # FORCE cannot terminate another role's backend (an autovacuum worker, say); it ends soon.
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
