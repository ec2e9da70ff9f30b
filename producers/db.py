"""Database plumbing shared by the producers: engine creation and migrations."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, **kwargs: object) -> Engine:
    return create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config(url: str) -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_outbox(url: str, revision: str = "head") -> None:
    """Apply the producers' migrations (outbox, edges) up to `revision` (idempotent)."""
    command.upgrade(alembic_config(url), revision)


def upgrade(url: str) -> None:
    """Migrate the platform database: the producers' tables and the stream apps' read models
    (two Alembic trees with their own version tables in one database)."""
    from nmc_streams.db import upgrade as upgrade_read_models

    upgrade_outbox(url)
    upgrade_read_models(url)


def psycopg_dsn(url: str) -> str:
    """A libpq DSN from a SQLAlchemy URL (the relay talks psycopg directly for LISTEN)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def scratch_database(url: str, prefix: str = "nmc_scratch") -> Iterator[str]:
    """A fresh, fully migrated database next to `url`'s, dropped on exit (tests, benches).

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
