"""PostgreSQL plumbing of every process: engines and the two Alembic trees.

One database holds the producers' tables (`migrations/platform`: outbox, edges, reactions)
and the stream apps' read models (`migrations/read_models`); each tree keeps its own version
table, so either can move on its own. Both live here so one `upgrade` migrates the platform.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine

from nmc.infra.db_roles import grant_process_roles

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PLATFORM_MIGRATIONS = MIGRATIONS / "platform"
READ_MODEL_MIGRATIONS = MIGRATIONS / "read_models"


def make_engine(url: str, connect_timeout_s: int | None = None, **kwargs: Any) -> Engine:
    """An engine that pings before lending a connection: after a PostgreSQL restart a caller
    gets a fresh connection instead of an error."""
    if connect_timeout_s is not None:
        kwargs.setdefault("connect_args", {})["connect_timeout"] = connect_timeout_s
    return create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config(url: str, tree: Path = PLATFORM_MIGRATIONS) -> Config:
    """Alembic configured in code for one tree: the URL never comes from a file."""
    config = Config()
    config.set_main_option("script_location", str(tree))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_outbox(url: str, revision: str = "head") -> None:
    """Apply the producers' migrations (outbox, edges, reactions) up to `revision`."""
    command.upgrade(alembic_config(url, PLATFORM_MIGRATIONS), revision)


def upgrade_read_models(url: str, revision: str = "head") -> None:
    """Apply the stream apps' read-model migrations up to `revision`."""
    command.upgrade(alembic_config(url, READ_MODEL_MIGRATIONS), revision)


def upgrade(url: str) -> None:
    """Migrate the platform database: both trees, then the process roles' grants
    (`nmc.infra.db_roles`, as the owner); idempotent."""
    upgrade_outbox(url)
    upgrade_read_models(url)
    grant_process_roles(url)


def psycopg_dsn(url: str) -> str:
    """A libpq DSN from a SQLAlchemy URL (the relay talks psycopg directly for LISTEN)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
