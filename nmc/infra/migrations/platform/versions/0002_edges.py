"""Ingestion edges: tenant directory, conversation threads, provider receipts, outbound
messages (the SMS sender's claim table), catalog, compliance, subscriptions and reservations.

Revision ID: 0002
Revises: 0001

`btree_gist` is needed for the reservations exclusion constraint (uuid equality inside a GiST
index). It is a *trusted* extension since PostgreSQL 13, so the database owner (the `nmc` role,
not a superuser) may create it; no superuser step is needed.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        """
        CREATE TABLE tenants (
            tenant_id           uuid PRIMARY KEY,
            name                text NOT NULL CHECK (name <> ''),
            stripe_customer_id  text UNIQUE,
            auto_reply_template text NOT NULL,
            time_zone           text NOT NULL,
            created_at          timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # A number routes to exactly one tenant: the primary key is the phone itself.
    op.execute(
        """
        CREATE TABLE tenant_numbers (
            phone     text PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenants ON DELETE CASCADE
        )
        """
    )
    op.execute("CREATE INDEX tenant_numbers_tenant ON tenant_numbers (tenant_id)")
    # One open thread per (tenant, caller): its id is the correlation_id of every event of it.
    op.execute(
        """
        CREATE TABLE threads (
            correlation_id         uuid PRIMARY KEY,
            tenant_id              uuid NOT NULL REFERENCES tenants,
            caller_phone           text NOT NULL,
            opened_at              timestamptz NOT NULL,
            last_activity_at       timestamptz NOT NULL,
            closed_at              timestamptz,
            last_outbound_event_id uuid
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX threads_open ON threads (tenant_id, caller_phone) "
        "WHERE closed_at IS NULL"
    )
    op.execute(
        """
        CREATE TABLE calls (
            call_id        uuid PRIMARY KEY,
            tenant_id      uuid NOT NULL REFERENCES tenants,
            call_sid       text NOT NULL UNIQUE,
            from_phone     text NOT NULL,
            to_phone       text NOT NULL,
            call_status    text NOT NULL,
            correlation_id uuid NOT NULL,
            event_id       uuid NOT NULL,
            received_at    timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE inbound_messages (
            message_id     uuid PRIMARY KEY,
            tenant_id      uuid NOT NULL REFERENCES tenants,
            message_sid    text NOT NULL UNIQUE,
            from_phone     text NOT NULL,
            to_phone       text NOT NULL,
            body           text NOT NULL,
            correlation_id uuid NOT NULL,
            event_id       uuid NOT NULL,
            received_at    timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE outbound_messages (
            message_id      uuid PRIMARY KEY,
            tenant_id       uuid NOT NULL REFERENCES tenants,
            correlation_id  uuid NOT NULL,
            conversation_id uuid NOT NULL,
            to_phone        text NOT NULL,
            from_phone      text NOT NULL,
            body            text NOT NULL,
            status          text NOT NULL DEFAULT 'queued' CHECK (status IN
                ('queued', 'sending', 'unknown', 'sent', 'delivered', 'failed')),
            queued_event_id uuid NOT NULL,
            provider_sid    text UNIQUE,
            error_code      text,
            attempts        integer NOT NULL DEFAULT 0,
            claimed_by      uuid,
            claimed_at      timestamptz,
            created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
            updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """
    )
    op.execute(
        "CREATE INDEX outbound_messages_queued ON outbound_messages (created_at) "
        "WHERE status = 'queued'"
    )
    op.execute(
        "CREATE INDEX outbound_messages_sending ON outbound_messages (claimed_by) "
        "WHERE status = 'sending'"
    )
    op.execute(
        """
        CREATE TABLE stripe_events (
            stripe_event_id text PRIMARY KEY,
            event_type      text NOT NULL,
            tenant_id       uuid NOT NULL REFERENCES tenants,
            created         timestamptz NOT NULL,
            applied         boolean NOT NULL,
            received_at     timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE subscriptions (
            stripe_subscription_id text PRIMARY KEY,
            tenant_id              uuid NOT NULL REFERENCES tenants,
            stripe_customer_id     text NOT NULL,
            plan                   text NOT NULL CHECK (plan IN ('basic', 'pro')),
            status                 text NOT NULL
                CHECK (status IN ('active', 'past_due', 'canceled', 'trialing')),
            current_period_end     timestamptz NOT NULL,
            source_created         timestamptz NOT NULL,
            updated_at             timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id)")
    op.execute(
        """
        CREATE TABLE compliance_campaigns (
            tenant_id   uuid NOT NULL REFERENCES tenants,
            campaign_id uuid NOT NULL,
            status      text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, campaign_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE catalog_items (
            tenant_id        uuid NOT NULL REFERENCES tenants,
            item_id          uuid NOT NULL,
            name             text NOT NULL CHECK (name <> ''),
            price_cents      integer NOT NULL CHECK (price_cents >= 0),
            duration_minutes integer NOT NULL CHECK (duration_minutes > 0),
            active           boolean NOT NULL,
            updated_at       timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, item_id)
        )
        """
    )
    # Holds and appointments share one row (a booking converts the hold in place), so one
    # exclusion constraint covers hold/hold, hold/appointment and appointment/appointment.
    op.execute(
        """
        CREATE TABLE reservations (
            hold_id          uuid PRIMARY KEY,
            tenant_id        uuid NOT NULL REFERENCES tenants,
            resource_id      uuid NOT NULL,
            start_at         timestamptz NOT NULL,
            end_at           timestamptz NOT NULL,
            status           text NOT NULL
                CHECK (status IN ('held', 'booked', 'released', 'cancelled')),
            expires_at       timestamptz NOT NULL,
            correlation_id   uuid NOT NULL,
            customer_phone   text,
            service_item_id  uuid,
            appointment_id   uuid UNIQUE,
            held_event_id    uuid NOT NULL,
            booked_event_id  uuid,
            cancelled_reason text,
            created_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now(),
            CHECK (end_at > start_at),
            CONSTRAINT reservations_no_overlap EXCLUDE USING gist (
                tenant_id WITH =,
                resource_id WITH =,
                tstzrange(start_at, end_at, '[)') WITH &&
            ) WHERE (status IN ('held', 'booked'))
        )
        """
    )
    op.execute(
        "CREATE INDEX reservations_expiring ON reservations (expires_at) WHERE status = 'held'"
    )


def downgrade() -> None:
    for table in (
        "reservations",
        "catalog_items",
        "compliance_campaigns",
        "subscriptions",
        "stripe_events",
        "outbound_messages",
        "inbound_messages",
        "calls",
        "threads",
        "tenant_numbers",
        "tenants",
    ):
        op.execute(f"DROP TABLE {table}")
