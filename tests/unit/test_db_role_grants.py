"""The PostgreSQL grants per process role (nmc.infra.db_roles.grant_statements)."""

from __future__ import annotations

from nmc.infra.db_roles import (
    API_ROLE,
    RELAY_ROLE,
    STREAMS_ROLE,
    grant_statements,
    process_roles,
)


def test_the_read_api_gets_select_only_and_everything_else_is_revoked_first() -> None:
    stmts = grant_statements({API_ROLE}, {"conv_conversations", "rpt_daily", "outbox_events"})
    assert stmts[0] == 'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "nmc_api"'
    grants = [s for s in stmts if s.startswith("GRANT") and "SCHEMA" not in s]
    assert grants == ['GRANT SELECT ON conv_conversations, rpt_daily TO "nmc_api"']


def test_roles_the_server_lacks_and_missing_tables_are_skipped() -> None:
    assert grant_statements(set(), {"outbox_events"}) == []
    relay = grant_statements({RELAY_ROLE}, {"outbox_events"})
    assert 'GRANT SELECT, UPDATE, DELETE ON outbox_events TO "nmc_relay"' in relay
    assert not any("INSERT" in s for s in relay)


def test_nobody_but_the_owner_creates_or_truncates() -> None:
    every = grant_statements({r.name for r in process_roles()}, {"outbox_events", "tenants"})
    assert not any(word in s for s in every for word in ("TRUNCATE", "CREATE ON", "ALL PRIVILEGES"))


def test_a_new_read_model_is_granted_by_its_app_prefix() -> None:
    """Adding a read model (docs/operating/workers.md) needs no line in db_roles: a table named
    with an app's prefix is the API's to select and the workers' to write; views stay apart."""
    tables = {"conv_conversations", "rpt_callbacks", "rpt_daily", "stream_state", "tenants"}
    stmts = grant_statements({API_ROLE, STREAMS_ROLE}, tables)
    assert 'GRANT SELECT ON conv_conversations, rpt_callbacks, rpt_daily TO "nmc_api"' in stmts
    assert ('GRANT SELECT, INSERT, UPDATE, DELETE ON conv_conversations, rpt_callbacks, '
            'stream_state TO "nmc_streams"') in stmts
    assert 'GRANT SELECT ON rpt_daily TO "nmc_streams"' in stmts
    assert not any("tenants" in s for s in stmts)
