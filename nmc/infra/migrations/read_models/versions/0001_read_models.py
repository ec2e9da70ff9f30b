"""Read models of the stream apps, the daily report views and the dead-letter table.

Revision ID: rm0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "rm0001"
down_revision = None
branch_labels = None
depends_on = None

_DDL = """
CREATE TABLE conv_conversations (
    tenant_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    correlation_id uuid NOT NULL,
    caller_phone text NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'closed')),
    started_at timestamptz NOT NULL,
    last_activity_at timestamptz NOT NULL,
    opened_by_call_id uuid,
    takeover_user_id uuid,
    takeover_at timestamptz,
    message_count integer NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id)
);
CREATE INDEX conv_conversations_activity ON conv_conversations (tenant_id, last_activity_at);

CREATE TABLE conv_messages (
    tenant_id uuid NOT NULL,
    message_id uuid NOT NULL,
    conversation_id uuid,
    correlation_id uuid NOT NULL,
    direction text CHECK (direction IN ('in', 'out')),
    status text CHECK (status IN ('queued', 'sent', 'delivered', 'failed')),
    status_at timestamptz,
    first_seen_at timestamptz NOT NULL,
    from_phone text,
    to_phone text,
    body text,
    provider_ref text,
    error_code text,
    version integer NOT NULL,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX conv_messages_conversation ON conv_messages (tenant_id, conversation_id);

CREATE TABLE conv_missed_calls (
    tenant_id uuid NOT NULL,
    call_id uuid NOT NULL,
    correlation_id uuid NOT NULL,
    conversation_id uuid,
    from_phone text NOT NULL,
    to_phone text NOT NULL,
    reason text NOT NULL,
    provider_ref text NOT NULL,
    occurred_at timestamptz NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (tenant_id, call_id)
);

CREATE TABLE sched_holds (
    tenant_id uuid NOT NULL,
    hold_id uuid NOT NULL,
    correlation_id uuid NOT NULL,
    resource_id uuid NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('held', 'booked', 'released')),
    held_at timestamptz,
    released_at timestamptz,
    appointment_id uuid,
    version integer NOT NULL,
    PRIMARY KEY (tenant_id, hold_id)
);
CREATE INDEX sched_holds_resource ON sched_holds (tenant_id, resource_id, start_at);

CREATE TABLE sched_appointments (
    tenant_id uuid NOT NULL,
    appointment_id uuid NOT NULL,
    correlation_id uuid NOT NULL,
    resource_id uuid NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    service_item_id uuid,
    customer_phone text,
    hold_id uuid,
    status text NOT NULL CHECK (status IN ('booked', 'cancelled')),
    booked_at timestamptz,
    cancelled_at timestamptz,
    cancelled_reason text,
    version integer NOT NULL,
    PRIMARY KEY (tenant_id, appointment_id)
);
CREATE INDEX sched_appointments_resource ON sched_appointments (tenant_id, resource_id, start_at);

CREATE TABLE rpt_facts (
    tenant_id uuid NOT NULL,
    metric text NOT NULL,
    entity_id text NOT NULL,
    day date NOT NULL,
    dimension text NOT NULL,
    correlation_id uuid NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (tenant_id, metric, entity_id)
);
CREATE INDEX rpt_facts_day ON rpt_facts (tenant_id, day);

CREATE TABLE rpt_compliance (
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    status text NOT NULL,
    changed_at timestamptz NOT NULL,
    event_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id)
);

CREATE TABLE rpt_subscriptions (
    tenant_id uuid PRIMARY KEY,
    status text NOT NULL,
    plan text NOT NULL,
    stripe_customer_id text NOT NULL,
    stripe_subscription_id text NOT NULL,
    current_period_end timestamptz NOT NULL,
    changed_at timestamptz NOT NULL,
    event_id uuid NOT NULL
);

CREATE TABLE rpt_catalog_changes (
    tenant_id uuid NOT NULL,
    event_id uuid NOT NULL,
    correlation_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    updated_item_ids text[] NOT NULL,
    full_refresh boolean NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);

CREATE VIEW rpt_daily_counts AS
SELECT tenant_id, day, metric, dimension, count(*)::integer AS count
FROM rpt_facts GROUP BY tenant_id, day, metric, dimension;

CREATE VIEW rpt_daily AS
SELECT tenant_id, day,
    count(*) FILTER (WHERE metric = 'missed_call')::integer AS missed_calls,
    count(*) FILTER (WHERE metric = 'missed_call' AND dimension = 'no-answer')::integer
        AS missed_calls_no_answer,
    count(*) FILTER (WHERE metric = 'missed_call' AND dimension = 'busy')::integer
        AS missed_calls_busy,
    count(*) FILTER (WHERE metric = 'missed_call' AND dimension = 'failed')::integer
        AS missed_calls_failed,
    count(*) FILTER (WHERE metric = 'converted_call')::integer AS converted_calls,
    count(*) FILTER (WHERE metric = 'conversation_started')::integer AS conversations_started,
    count(*) FILTER (WHERE metric = 'message' AND dimension = 'in')::integer AS messages_in,
    count(*) FILTER (WHERE metric = 'message' AND dimension = 'out')::integer AS messages_out,
    count(*) FILTER (WHERE metric = 'delivery' AND dimension = 'delivered')::integer AS delivered,
    count(*) FILTER (WHERE metric = 'delivery' AND dimension = 'failed')::integer AS failed,
    count(*) FILTER (WHERE metric = 'hold')::integer AS holds,
    count(*) FILTER (WHERE metric = 'booking')::integer AS bookings,
    count(*) FILTER (WHERE metric = 'release')::integer AS releases,
    count(*) FILTER (WHERE metric = 'cancellation')::integer AS cancellations,
    count(*) FILTER (WHERE metric = 'cancellation' AND dimension = 'user')::integer
        AS cancellations_user,
    count(*) FILTER (WHERE metric = 'cancellation' AND dimension = 'tenant')::integer
        AS cancellations_tenant,
    count(*) FILTER (WHERE metric = 'cancellation' AND dimension = 'system')::integer
        AS cancellations_system,
    count(*) FILTER (WHERE metric = 'cancellation' AND dimension = 'conflict')::integer
        AS cancellations_conflict,
    count(*) FILTER (WHERE metric = 'catalog_change')::integer AS catalog_changes,
    CASE WHEN count(*) FILTER (WHERE metric = 'missed_call') = 0 THEN NULL
         ELSE round(count(*) FILTER (WHERE metric = 'converted_call')::numeric
                    / count(*) FILTER (WHERE metric = 'missed_call'), 4)
    END AS conversion_rate
FROM rpt_facts GROUP BY tenant_id, day;

CREATE TABLE stream_dead_letters (
    id bigserial PRIMARY KEY,
    group_id text NOT NULL,
    app text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    record_key text,
    event_id text,
    event_name text,
    tenant_id text,
    event jsonb,
    raw_value bytea,
    headers jsonb NOT NULL,
    error text NOT NULL,
    attempts integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (group_id, topic, partition, "offset")
);
"""

_DROP = """
DROP TABLE IF EXISTS stream_dead_letters;
DROP VIEW IF EXISTS rpt_daily;
DROP VIEW IF EXISTS rpt_daily_counts;
DROP TABLE IF EXISTS rpt_catalog_changes, rpt_subscriptions, rpt_compliance, rpt_facts;
DROP TABLE IF EXISTS sched_appointments, sched_holds;
DROP TABLE IF EXISTS conv_missed_calls, conv_messages, conv_conversations;
"""


def upgrade() -> None:
    op.execute(_DDL)


def downgrade() -> None:
    op.execute(_DROP)
