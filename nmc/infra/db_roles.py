"""PostgreSQL roles per process: what each one may do to which table (least privilege).

Migrations run as the owner (`nmc` on the local stack); the processes log in as these roles
(each through its own URL setting, defaulting to DATABASE_URL so nothing changes unless
configured). The local stack creates the roles (`nmc.stack.postgres`, as the superuser);
`grant_process_roles` (run after every migration, as the owner) grants them their tables and
revokes everything else, so a table no class below names is nobody's but the owner's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import create_engine, text

#: Read-model tables are named by their app's prefix, and that names them here too: a table with
#: one of these prefixes (views aside) is a read model, so adding one needs no line in this file
#: (docs/operating/workers.md, "Adding a read model").
READ_MODEL_PREFIXES = ("conv_", "sched_", "rpt_")
#: The stream apps' read models (tables) of today; `read_models` adds any other prefixed table.
READ_MODELS = (
    "conv_conversations", "conv_messages", "conv_missed_calls",
    "sched_holds", "sched_appointments",
    "rpt_facts", "rpt_compliance", "rpt_subscriptions", "rpt_catalog_changes",
)
READ_MODEL_VIEWS = ("rpt_daily", "rpt_daily_counts")
#: The stream workers' own bookkeeping (dedupe state, dead letters, replays, rebuilds).
STREAM_STATE = ("stream_state", "stream_dead_letters", "dead_letter_replays", "stream_rebuilds")
#: The edges' and domain commands' tables (written in the transaction that appends to the
#: outbox), and the reactor's.
WRITER_TABLES = (
    "tenants", "tenant_numbers", "threads", "calls", "inbound_messages", "outbound_messages",
    "stripe_events", "subscriptions", "compliance_campaigns", "catalog_items", "reservations",
    "conversation_reactions", "sender_turns",
)
OUTBOX = "outbox_events"
#: Per-tenant versions of what the read API shows (kept by triggers, rm0005): its 304 check.
READ_VERSIONS = "read_versions"
MIGRATION_TABLES = ("alembic_version", "alembic_version_read_models")

API_ROLE = "nmc_api"
RELAY_ROLE = "nmc_relay"
WRITER_ROLE = "nmc_writer"
STREAMS_ROLE = "nmc_streams"


@dataclass(frozen=True)
class Grant:
    """`privileges` on `tables` for `role`."""

    role: str
    privileges: tuple[str, ...]
    tables: tuple[str, ...]


@dataclass(frozen=True)
class ProcessRole:
    """A login role of one kind of process, and what it is for."""

    name: str
    purpose: str
    grants: tuple[Grant, ...]
    sequences: bool = False  # USAGE on the schema's sequences (it inserts rows with ids)


def is_read_model(table: str) -> bool:
    """A stream app's read-model table (by its app's prefix; the views are listed apart)."""
    return table.startswith(READ_MODEL_PREFIXES) and table not in READ_MODEL_VIEWS


def read_models(existing_tables: set[str]) -> tuple[str, ...]:
    """`READ_MODELS` and every other read-model table that exists."""
    return tuple(sorted({*READ_MODELS, *filter(is_read_model, existing_tables)}))


def process_roles(read_model_tables: tuple[str, ...] = READ_MODELS) -> list[ProcessRole]:
    """Every process role and its grants (the whole policy, in one place)."""
    dml = ("SELECT", "INSERT", "UPDATE", "DELETE")
    return [
        ProcessRole(API_ROLE, "read API: SELECT on the read models only",
                    (Grant(API_ROLE, ("SELECT",),
                           (*read_model_tables, *READ_MODEL_VIEWS, "conversation_reactions",
                            READ_VERSIONS)),)),
        ProcessRole(RELAY_ROLE, "outbox relay: read and settle (mark, delete) outbox rows",
                    (Grant(RELAY_ROLE, ("SELECT", "UPDATE", "DELETE"), (OUTBOX,)),)),
        ProcessRole(WRITER_ROLE, "edges, domain commands, reactor, sender: their tables, and "
                    "append to the outbox", (Grant(WRITER_ROLE, dml, WRITER_TABLES),
                                             Grant(WRITER_ROLE, ("SELECT", "INSERT"), (OUTBOX,))),
                    sequences=True),
        ProcessRole(STREAMS_ROLE, "stream workers: own the read models and their bookkeeping",
                    (Grant(STREAMS_ROLE, dml, (*read_model_tables, *STREAM_STATE)),
                     Grant(STREAMS_ROLE, ("SELECT",), READ_MODEL_VIEWS)),
                    sequences=True),
    ]


def grant_statements(existing_roles: set[str], existing_tables: set[str]) -> list[str]:
    """SQL that makes each existing process role's privileges exactly its grants on the tables
    that exist (revoke everything first: a stale grant never lingers)."""
    statements: list[str] = []
    for role in process_roles(read_models(existing_tables)):
        if role.name not in existing_roles:
            continue
        statements += [
            f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role.name}"',
            f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "{role.name}"',
            f'GRANT USAGE ON SCHEMA public TO "{role.name}"',
        ]
        for grant in role.grants:
            tables = [t for t in grant.tables if t in existing_tables]
            if tables:
                statements.append(f"GRANT {', '.join(grant.privileges)} ON "
                                  f"{', '.join(tables)} TO \"{role.name}\"")
        if role.sequences:
            statements.append(
                f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role.name}"')
    return statements


def grant_process_roles(url: str) -> list[str]:
    """Apply `grant_statements` in one transaction, as the owner `url` logs in as; the roles
    granted (none when the server has no process roles: an external database, say)."""
    names = [r.name for r in process_roles()]
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            roles = set(conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:n)"),
                                     {"n": names}).scalars())
            tables = set(conn.execute(text(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public'")).scalars())
            for statement in grant_statements(roles, tables):
                conn.execute(text(statement))
        return sorted(roles)
    finally:
        engine.dispose()
