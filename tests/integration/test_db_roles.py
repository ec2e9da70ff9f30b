"""PostgreSQL roles per process (nmc.infra.db_roles) on the real server: the read API's role
can SELECT the read models and is refused (insufficient privilege, SQLSTATE 42501) every
INSERT, UPDATE and DELETE on every table; the relay may read and settle the outbox only; the
writers append to the outbox but cannot settle it; no table is left unclassified."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors, sql

from nmc.infra.db import psycopg_dsn
from nmc.infra.db_roles import (
    API_ROLE,
    MIGRATION_TABLES,
    OUTBOX,
    READ_MODEL_VIEWS,
    READ_MODELS,
    READ_VERSIONS,
    RELAY_ROLE,
    STREAM_STATE,
    STREAMS_ROLE,
    WRITER_ROLE,
    WRITER_TABLES,
    grant_process_roles,
    is_read_model,
)
from nmc.stack.render import process_role_url


@pytest.fixture
def granted(database_url: str) -> str:
    """The test's database with the process roles' grants applied (as the owner)."""
    roles = grant_process_roles(database_url)
    assert {API_ROLE, RELAY_ROLE, WRITER_ROLE, STREAMS_ROLE} <= set(roles), (
        "the server lacks the process roles: `nmc stack up` creates them")
    return database_url


@pytest.fixture
def as_api(granted: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(psycopg_dsn(process_role_url(granted, API_ROLE)),
                         autocommit=True) as conn:
        yield conn


def _tables(url: str) -> dict[str, str]:
    with psycopg.connect(psycopg_dsn(url)) as conn:
        rows = conn.execute("SELECT table_name, table_type FROM information_schema.tables"
                            " WHERE table_schema = 'public'").fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _first_column(conn: psycopg.Connection[tuple[object, ...]], table: str) -> str:
    """From pg_attribute: information_schema shows a role only the columns it may use."""
    row = conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass"
                       " AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1",
                       (table,)).fetchone()
    assert row is not None
    return str(row[0])


def test_every_table_belongs_to_a_class(granted: str) -> None:
    known = {*READ_MODELS, *READ_MODEL_VIEWS, *STREAM_STATE, *WRITER_TABLES, OUTBOX,
             READ_VERSIONS, *MIGRATION_TABLES}
    unknown = {t for t in _tables(granted) if t not in known and not is_read_model(t)}
    assert unknown == set(), "classify new tables in nmc.infra.db_roles"


def test_the_read_api_role_selects_the_read_models(
    as_api: psycopg.Connection[tuple[object, ...]],
) -> None:
    for table in (*READ_MODELS, *READ_MODEL_VIEWS, "conversation_reactions", READ_VERSIONS):
        as_api.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    for table in (OUTBOX, "tenants", "stream_dead_letters"):
        with pytest.raises(errors.InsufficientPrivilege):
            as_api.execute(sql.SQL("SELECT 1 FROM {}").format(sql.Identifier(table)))


def test_the_read_api_role_cannot_write_any_table(
    granted: str, as_api: psycopg.Connection[tuple[object, ...]],
) -> None:
    tables = _tables(granted)
    base = sorted(t for t, kind in tables.items() if kind == "BASE TABLE")
    assert len(base) > 20
    for table in base:
        name = sql.Identifier(table)
        column = sql.Identifier(_first_column(as_api, table))
        for statement in (
            sql.SQL("INSERT INTO {} DEFAULT VALUES").format(name),
            sql.SQL("UPDATE {} SET {} = DEFAULT WHERE false").format(name, column),
            sql.SQL("DELETE FROM {} WHERE false").format(name),
            sql.SQL("TRUNCATE {}").format(name),
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                as_api.execute(statement)
    for view in (t for t, kind in tables.items() if kind == "VIEW"):
        for privilege in ("INSERT", "UPDATE", "DELETE"):
            assert as_api.execute("SELECT has_table_privilege(%s, %s)",
                                  (view, privilege)).fetchone() == (False,)
    with pytest.raises(errors.InsufficientPrivilege):
        as_api.execute("CREATE TABLE api_made (x int)")


def test_the_relay_reads_and_settles_the_outbox_only(granted: str) -> None:
    with psycopg.connect(psycopg_dsn(process_role_url(granted, RELAY_ROLE)),
                         autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM outbox_events")
        conn.execute("UPDATE outbox_events SET state = state WHERE false")
        conn.execute("DELETE FROM outbox_events WHERE false")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("INSERT INTO outbox_events DEFAULT VALUES")
        for table in ("tenants", "conv_conversations"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SELECT 1 FROM {}").format(sql.Identifier(table)))


def test_writers_append_and_workers_own_the_read_models(granted: str) -> None:
    with psycopg.connect(psycopg_dsn(granted)) as owner:
        def can(role: str, table: str, privilege: str) -> bool:
            row = owner.execute("SELECT has_table_privilege(%s, %s, %s)",
                                (role, table, privilege)).fetchone()
            return bool(row and row[0])

        assert can(WRITER_ROLE, OUTBOX, "INSERT")
        assert not can(WRITER_ROLE, OUTBOX, "UPDATE") and not can(WRITER_ROLE, OUTBOX, "DELETE")
        assert can(WRITER_ROLE, "calls", "INSERT")
        assert not can(WRITER_ROLE, "conv_conversations", "INSERT")
        assert all(can(STREAMS_ROLE, t, p) for t in (*READ_MODELS, *STREAM_STATE)
                   for p in ("SELECT", "INSERT", "UPDATE", "DELETE"))
        assert not can(STREAMS_ROLE, OUTBOX, "SELECT")
        assert not can(STREAMS_ROLE, "tenants", "INSERT")
