"""Each conversation and message row stores its own JSON as the read API prints it (issue #24).

`item_json` is a stored generated column: PostgreSQL renders the row's object once, when the
row is written, instead of at every read. The conversation list is then a concatenation of
50 stored strings read by an index-only scan (`conv_conversations_page(_status)` now carry
`item_json`), and the detail is its conversation's and messages' stored objects put together.
Rendering timestamps (`to_char`) was the largest part of a list's backend CPU.

The rendering is the one `nmc_streams.api.json_sql` describes (the bytes pydantic printed for
the old response models; the read API's integration test compares both byte for byte):
uuid quoted, integer as is, text JSON-escaped by `to_json`, timestamptz as `...Z` in UTC with
`.ffffff` only when there are microseconds, NULL as `null`; keys in table order, the columns
the API hides left out. `to_char` and `to_json` are only STABLE in PostgreSQL's catalogue
(locale and time zone settings could matter to other formats); the two wrappers below are
declared IMMUTABLE, which a generated column needs and which holds for these fixed formats: no
locale-dependent pattern, an explicit UTC conversion.

Adding a stored column rewrites both tables (an ACCESS EXCLUSIVE lock for the rewrite); on a
large deployment run it in a maintenance window or rebuild the models (`nmc worker rebuild`:
its tables are copied `LIKE ... INCLUDING ALL`, generated columns included).

Revision ID: rm0006
Revises: rm0005
"""

from __future__ import annotations

from alembic import op

revision = "rm0006"
down_revision = "rm0005"
branch_labels = None
depends_on = None

# (column, kind) of what the API shows, in table order (frozen: the tables of this revision)
_CONVERSATION = (
    ("conversation_id", "uuid"), ("correlation_id", "uuid"), ("caller_phone", "text"),
    ("status", "text"), ("started_at", "ts"), ("last_activity_at", "ts"),
    ("opened_by_call_id", "uuid"), ("takeover_user_id", "uuid"), ("takeover_at", "ts"),
    ("message_count", "int"),
)
_MESSAGE = (
    ("message_id", "uuid"), ("direction", "text"), ("status", "text"), ("status_at", "ts"),
    ("first_seen_at", "ts"), ("from_phone", "text"), ("to_phone", "text"), ("body", "text"),
    ("error_code", "text"),
)

_FUNCTIONS = (
    """
    CREATE FUNCTION nmc_json_ts(ts timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce('"' || to_char(ts AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', ts) = ts
        THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END) || '"',
        'null')
    """,
    """
    CREATE FUNCTION nmc_json_text(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce(to_json(t)::text, 'null')
    """,
)


def _value(column: str, kind: str) -> str:
    return {"uuid": f"coalesce('\"' || {column}::text || '\"', 'null')",
            "int": f"coalesce({column}::text, 'null')",
            "ts": f"nmc_json_ts({column})",
            "text": f"nmc_json_text({column})"}[kind]


def _object(columns: tuple[tuple[str, str], ...]) -> str:
    parts = [f"'{'{' if n == 0 else ','}\"{name}\":' || {_value(name, kind)}"
             for n, (name, kind) in enumerate(columns)]
    return " || ".join(parts) + " || '}'"


def upgrade() -> None:
    for function in _FUNCTIONS:
        op.execute(function)
    op.execute("ALTER TABLE conv_conversations ADD COLUMN item_json text "
               f"GENERATED ALWAYS AS ({_object(_CONVERSATION)}) STORED")
    op.execute("ALTER TABLE conv_messages ADD COLUMN item_json text "
               f"GENERATED ALWAYS AS ({_object(_MESSAGE)}) STORED")
    # the page reads keys and item_json only: both indexes cover it (index-only scans)
    op.execute("DROP INDEX conv_conversations_page")
    op.execute("DROP INDEX conv_conversations_page_status")
    op.execute("CREATE INDEX conv_conversations_page ON conv_conversations "
               "(tenant_id, last_activity_at DESC, conversation_id DESC) INCLUDE (item_json)")
    op.execute("CREATE INDEX conv_conversations_page_status ON conv_conversations "
               "(tenant_id, status, last_activity_at DESC, conversation_id DESC) "
               "INCLUDE (item_json)")


def downgrade() -> None:
    shown = ("correlation_id, caller_phone, started_at, opened_by_call_id, takeover_user_id, "
             "takeover_at, message_count, version")
    op.execute("DROP INDEX conv_conversations_page")
    op.execute("DROP INDEX conv_conversations_page_status")
    op.execute("ALTER TABLE conv_messages DROP COLUMN item_json")
    op.execute("ALTER TABLE conv_conversations DROP COLUMN item_json")
    op.execute("CREATE INDEX conv_conversations_page ON conv_conversations (tenant_id, "
               f"last_activity_at DESC, conversation_id DESC) INCLUDE (status, {shown})")
    op.execute("CREATE INDEX conv_conversations_page_status ON conv_conversations (tenant_id, "
               f"status, last_activity_at DESC, conversation_id DESC) INCLUDE ({shown})")
    op.execute("DROP FUNCTION nmc_json_text(text)")
    op.execute("DROP FUNCTION nmc_json_ts(timestamptz)")
