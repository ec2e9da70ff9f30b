"""PostgreSQL plumbing of every process: engines and the two Alembic trees.

One database holds the producers' tables (`migrations/platform`: outbox, edges, reactions)
and the stream apps' read models (`migrations/read_models`); each tree keeps its own version
table, so either can move on its own. Both live here so one `upgrade` migrates the platform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, CursorResult, Engine, create_engine
from sqlalchemy.orm import Session

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


def unnest_rows(columns: Sequence[tuple[str, str]]) -> str:
    """SQL selecting the rows of column-wise parameters, in their given order:
    ``SELECT a, b FROM unnest(CAST(%(a)b AS uuid[]), ...) WITH ORDINALITY AS r(a, b, n)
    ORDER BY n`` for ``[("a", "uuid"), ("b", "text")]``; run it with `execute_columns`.

    One statement whatever the number of rows, and its text never changes, so neither
    SQLAlchemy nor psycopg parses it again per batch (as a multi-row VALUES of N rows needs);
    the arrays travel in binary (``%(name)b``), which spares their text escaping.
    """
    names = ", ".join(name for name, _ in columns)
    arrays = ", ".join(f"CAST(%({name})b AS {kind}[])" for name, kind in columns)
    return f"SELECT {names} FROM unnest({arrays}) WITH ORDINALITY AS r({names}, n) ORDER BY n"


def execute_columns(db: Session | Connection, sql: str,
                    columns: Mapping[str, Sequence[Any]]) -> CursorResult[Any]:
    """Run psycopg-style `sql` (``%(name)b`` placeholders, no other ``%``) with one list per
    parameter, in the caller's transaction; SQLAlchemy still wraps the driver's errors."""
    conn = db.connection() if isinstance(db, Session) else db
    return conn.exec_driver_sql(sql, dict(columns))
