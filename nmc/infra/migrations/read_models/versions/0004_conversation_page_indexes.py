"""Covering indexes for the conversation list of the read API (issue #24).

The list and its cursor pages read `(tenant_id[, status])` in `(last_activity_at,
conversation_id) DESC` order, `limit + 1` rows. These indexes hold that order and every column
the page shows (INCLUDE), so a page is one index-only scan: no sort, no heap visit once the
visibility map is set (docs/performance-read-api.md has the EXPLAIN ANALYZE of each).
`conv_conversations_page` has the old `conv_conversations_activity` as its prefix, so that
one goes. Rebuilds copy the tables `LIKE … INCLUDING ALL`, indexes included.

Revision ID: rm0004
Revises: rm0003
"""

from __future__ import annotations

from alembic import op

revision = "rm0004"
down_revision = "rm0003"
branch_labels = None
depends_on = None

_SHOWN = ("correlation_id, caller_phone, started_at, opened_by_call_id, takeover_user_id, "
          "takeover_at, message_count, version")


def upgrade() -> None:
    op.execute(
        "CREATE INDEX conv_conversations_page ON conv_conversations "
        f"(tenant_id, last_activity_at DESC, conversation_id DESC) INCLUDE (status, {_SHOWN})"
    )
    op.execute(
        "CREATE INDEX conv_conversations_page_status ON conv_conversations "
        f"(tenant_id, status, last_activity_at DESC, conversation_id DESC) INCLUDE ({_SHOWN})"
    )
    op.execute("DROP INDEX conv_conversations_activity")


def downgrade() -> None:
    op.execute("CREATE INDEX conv_conversations_activity ON conv_conversations "
                "(tenant_id, last_activity_at)")
    op.execute("DROP INDEX conv_conversations_page_status")
    op.execute("DROP INDEX conv_conversations_page")
