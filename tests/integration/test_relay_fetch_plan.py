"""The relay's fetch walks the pending index and stops at its LIMIT, even on stale statistics.

In steady state the outbox holds mostly published rows (kept for `NMC_RELAY_RETENTION_S`), so the
statistics say almost nothing is pending. A backlog that builds up faster than autoanalyze runs
(an outage, a bulk import) leaves the planner believing that still; it then reads every pending
row and sorts them, per batch — most of a drained row's time before issue #9's fix (40-250 ms a
1,000-row batch on a 40k backlog). The relay's session plans without a sort, so its fetch stays
an ordered index walk.

Which statistics autoanalyze leaves in the middle of a drain depends on timing; the test gets a
planner that prefers the sort deterministically: statistics of an outbox with 1 % pending, then
a backlog, and a database-wide `random_page_cost` that makes an index walk look dear. Both
sessions plan under the same costs; only the relay's must not sort.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import Engine, text

from nmc.infra.db import psycopg_dsn
from producers.outbox.table import OUTBOX_LANES
from producers.relay.store import _FETCH, OutboxStore, int_array

BACKLOG = 20_000
BATCH = 1000

_INSERT = """
INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id, correlation_id,
                           occurred_at, payload, topic, record_key)
SELECT gen_random_uuid(), 'nmc.conversation.MessageSent', '1.0.0', t.tenant,
       ('00000000-0000-0000-0000-' || lpad((n %% 500)::text, 12, '0'))::uuid, now(),
       '{"message_id": "x", "conversation_id": "y", "direction": "out", "status": "queued"}',
       'nmc.conversation', t.tenant::text || ':' || (n %% 500)
FROM generate_series(1, %s) AS n, (SELECT gen_random_uuid() AS tenant) AS t
"""


def _plan(conn: psycopg.Connection[Any]) -> str:
    params = {"lanes": int_array(range(OUTBOX_LANES)), "limit": BATCH, "in_flight": "{}"}
    return "\n".join(r[0] for r in conn.execute("EXPLAIN " + _FETCH, params, prepare=False))


def test_fetch_on_a_backlog_the_statistics_do_not_know_is_an_index_walk(
    database_url: str, engine: Engine
) -> None:
    dsn = psycopg_dsn(database_url)
    with psycopg.connect(dsn, autocommit=True) as setup:
        setup.execute("ALTER TABLE outbox_events SET (autovacuum_enabled = false)")
        setup.execute(_INSERT, (BACKLOG,))
        setup.execute("UPDATE outbox_events SET state = 'published', published_at = now()"
                      " WHERE id % 100 <> 0")
        setup.execute("ANALYZE outbox_events")  # statistics of an outbox with 1 % pending
        setup.execute(_INSERT, (BACKLOG,))  # then a backlog they do not know about
        database = setup.info.dbname
        setup.execute(f'ALTER DATABASE "{database}" SET random_page_cost = 40')
    with psycopg.connect(dsn, autocommit=True) as plain_session:
        plain = _plan(plain_session)
    # The hazard is provoked: a session with the default planner settings sorts the backlog.
    assert "Sort" in plain, plain

    store = OutboxStore(dsn)
    try:
        relay_plan = _plan(store._connection())  # the relay's own session, as it fetches
    finally:
        store.close()
    assert "Sort" not in relay_plan, relay_plan
    assert "Index Scan using outbox_events_pending" in relay_plan, relay_plan

    with engine.connect() as conn:
        pending = conn.execute(
            text("SELECT count(*) FROM outbox_events WHERE state = 'pending'")).scalar_one()
    assert pending == BACKLOG + BACKLOG // 100
