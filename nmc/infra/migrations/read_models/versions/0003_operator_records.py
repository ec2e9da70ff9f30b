"""Operator records: who replayed which dead letter when, and every read-model rebuild.

Revision ID: rm0003
Revises: rm0002
"""

from __future__ import annotations

from alembic import op

revision = "rm0003"
down_revision = "rm0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE TABLE dead_letter_replays (
    id bigserial PRIMARY KEY,
    dead_letter_id bigint REFERENCES stream_dead_letters (id) ON DELETE SET NULL,
    group_id text NOT NULL,
    event_id text,
    event_name text,
    record_key text,
    source text NOT NULL,
    replay_topic text NOT NULL,
    replay_partition integer NOT NULL,
    replay_offset bigint NOT NULL,
    replayed_by text NOT NULL,
    replayed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letter_replays_dead_letter ON dead_letter_replays (dead_letter_id);

CREATE TABLE stream_rebuilds (
    id bigserial PRIMARY KEY,
    app text NOT NULL,
    group_id text NOT NULL,
    rebuilt_schema text NOT NULL,
    retired_schema text NOT NULL,
    events bigint NOT NULL,
    dead_letters bigint NOT NULL,
    started_at timestamptz NOT NULL,
    swapped_at timestamptz NOT NULL DEFAULT now(),
    swapped_by text NOT NULL
);
"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS stream_rebuilds; DROP TABLE IF EXISTS dead_letter_replays")
