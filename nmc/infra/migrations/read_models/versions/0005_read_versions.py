"""Per-tenant read versions: a cheap freshness check for the read API's conditional GETs
(issue #24).

`read_versions(tenant_id, scope, version)` holds, per tenant and scope, the id of the last
transaction (`txid_current()`, 64-bit: never reused) that changed a row of the scope's tables.
Statement-level triggers keep it, in the writing transaction, for every writer (stream
workers, the reactor, rebuilds, an operator's UPDATE): a row the API shows cannot change
without its tenant's version changing in the same commit. An UPDATE that leaves a row's
values as they were (a redelivered batch) moves nothing. The API's `ETag` of a body is then a
hash of (tenant, body format, version, what the URL asks for), and `If-None-Match` costs one
primary-key lookup instead of the body's query (`nmc_streams.api.freshness`).

`nmc_track_read_versions(table, scope)` installs the triggers on a table and bumps the
version of every tenant with rows in it and of every tenant of the scope. The migration calls
it for today's tables; a rebuild's swap calls it again on the tables it swaps in (`LIKE ...
INCLUDING ALL` copies no trigger, and the swap changes every row).

The trigger function is SECURITY DEFINER (the owner's), so the writers' roles need no grant
on `read_versions`; the read API's role gets SELECT (`nmc.infra.db_roles`).

Revision ID: rm0005
Revises: rm0004
"""

from __future__ import annotations

from alembic import op

revision = "rm0005"
down_revision = "rm0004"
branch_labels = None
depends_on = None

# scope -> tables whose rows make the scope's bodies (the conversation list and detail).
_TRACKED = {"conversations": ("conv_conversations", "conv_messages", "conversation_reactions")}

_BUMP = """
CREATE FUNCTION nmc_bump_read_versions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- tenants in tenant order: concurrent writers lock their version rows in one order
    IF TG_OP = 'INSERT' THEN
        INSERT INTO read_versions AS v (tenant_id, scope, version)
        SELECT DISTINCT tenant_id, TG_ARGV[0], txid_current() FROM nmc_new ORDER BY 1
        ON CONFLICT (tenant_id, scope) DO UPDATE SET version = excluded.version
        WHERE v.version <> excluded.version;
    ELSIF TG_OP = 'UPDATE' THEN
        -- only rows whose values changed: a redelivered batch rewrites equal rows (its
        -- upsert's guard is version <=), which must not invalidate every polling client
        INSERT INTO read_versions AS v (tenant_id, scope, version)
        SELECT DISTINCT tenant_id, TG_ARGV[0], txid_current()
        FROM ((SELECT * FROM nmc_new EXCEPT ALL SELECT * FROM nmc_old)
              UNION ALL (SELECT * FROM nmc_old EXCEPT ALL SELECT * FROM nmc_new)) changed
        ORDER BY 1
        ON CONFLICT (tenant_id, scope) DO UPDATE SET version = excluded.version
        WHERE v.version <> excluded.version;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO read_versions AS v (tenant_id, scope, version)
        SELECT DISTINCT tenant_id, TG_ARGV[0], txid_current() FROM nmc_old ORDER BY 1
        ON CONFLICT (tenant_id, scope) DO UPDATE SET version = excluded.version
        WHERE v.version <> excluded.version;
    ELSE  -- TRUNCATE: every tenant of the scope
        UPDATE read_versions SET version = txid_current() WHERE scope = TG_ARGV[0];
    END IF;
    RETURN NULL;
END $$
"""

_TRACK = """
CREATE FUNCTION nmc_track_read_versions(p_table regclass, p_scope text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS nmc_read_versions_ins ON %s', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS nmc_read_versions_upd ON %s', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS nmc_read_versions_del ON %s', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS nmc_read_versions_trunc ON %s', p_table);
    EXECUTE format('CREATE TRIGGER nmc_read_versions_ins AFTER INSERT ON %s '
                   'REFERENCING NEW TABLE AS nmc_new FOR EACH STATEMENT '
                   'EXECUTE FUNCTION public.nmc_bump_read_versions(%L)', p_table, p_scope);
    EXECUTE format('CREATE TRIGGER nmc_read_versions_upd AFTER UPDATE ON %s '
                   'REFERENCING OLD TABLE AS nmc_old NEW TABLE AS nmc_new FOR EACH STATEMENT '
                   'EXECUTE FUNCTION public.nmc_bump_read_versions(%L)', p_table, p_scope);
    EXECUTE format('CREATE TRIGGER nmc_read_versions_del AFTER DELETE ON %s '
                   'REFERENCING OLD TABLE AS nmc_old FOR EACH STATEMENT '
                   'EXECUTE FUNCTION public.nmc_bump_read_versions(%L)', p_table, p_scope);
    EXECUTE format('CREATE TRIGGER nmc_read_versions_trunc AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT '
                   'EXECUTE FUNCTION public.nmc_bump_read_versions(%L)', p_table, p_scope);
    EXECUTE format('INSERT INTO public.read_versions AS v (tenant_id, scope, version) '
                   'SELECT DISTINCT tenant_id, %L, txid_current() FROM %s ORDER BY 1 '
                   'ON CONFLICT (tenant_id, scope) DO UPDATE SET version = excluded.version',
                   p_scope, p_table);
    UPDATE public.read_versions SET version = txid_current() WHERE scope = p_scope;
END $$
"""


def upgrade() -> None:
    op.execute(
        "CREATE TABLE read_versions (tenant_id uuid NOT NULL, scope text NOT NULL, "
        "version bigint NOT NULL, PRIMARY KEY (tenant_id, scope))"
    )
    op.execute(_BUMP)
    op.execute(_TRACK)
    for scope, tables in _TRACKED.items():
        for table in tables:
            # conversation_reactions is the platform tree's (migrated first by `nmc db
            # migrate`); a database with only the read models has nothing to track there
            op.execute(f"SELECT nmc_track_read_versions(to_regclass('public.{table}'), "
                       f"'{scope}') WHERE to_regclass('public.{table}') IS NOT NULL")


def downgrade() -> None:
    for tables in _TRACKED.values():
        for table in tables:
            for suffix in ("ins", "upd", "del", "trunc"):
                op.execute(f"DO $$ BEGIN IF to_regclass('public.{table}') IS NOT NULL THEN "
                           f"DROP TRIGGER IF EXISTS nmc_read_versions_{suffix} ON "
                           f"public.{table}; END IF; END $$")
    op.execute("DROP FUNCTION nmc_track_read_versions(regclass, text)")
    op.execute("DROP FUNCTION nmc_bump_read_versions()")
    op.execute("DROP TABLE read_versions")
