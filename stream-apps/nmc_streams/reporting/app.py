"""The reporting app: daily per-tenant counts, compliance, subscriptions, catalog changes.

Its definition in one place (`APP`): the topics it reads (all six domains), the events it
handles (`state.EVENTS`, beside the reducers that read them), its read-model tables and its
`FlowModel`. The rows themselves are derived by the pure functions of `state.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import ARRAY, Boolean, Column, Date, Integer, Text

from nmc.contract.facts import Fact
from nmc_streams.conversation import state as conversation
from nmc_streams.flows import Rows, extend_rows
from nmc_streams.read_model import read_model, ts_column, uuid_column
from nmc_streams.reporting import state as reporting
from nmc_streams.state import FLOW, Entity, items, split_key, view
from nmc_streams.stream_app import StreamApp

rpt_facts = read_model(
    "rpt_facts",
    uuid_column("tenant_id", True),
    Column("metric", Text, primary_key=True),
    Column("entity_id", Text, primary_key=True),
    Column("day", Date, nullable=False),
    Column("dimension", Text, nullable=False),
    uuid_column("correlation_id"),
    Column("version", Integer, nullable=False),
    upsert="versioned",
)
rpt_compliance = read_model(
    "rpt_compliance",
    uuid_column("tenant_id", True),
    uuid_column("campaign_id", True),
    Column("status", Text, nullable=False),
    ts_column("changed_at", nullable=False),
    uuid_column("event_id"),
    upsert="last_writer_wins",
)
rpt_subscriptions = read_model(
    "rpt_subscriptions",
    uuid_column("tenant_id", True),
    Column("status", Text, nullable=False),
    Column("plan", Text, nullable=False),
    Column("stripe_customer_id", Text, nullable=False),
    Column("stripe_subscription_id", Text, nullable=False),
    ts_column("current_period_end", nullable=False),
    ts_column("changed_at", nullable=False),
    uuid_column("event_id"),
    upsert="last_writer_wins",
)
rpt_catalog_changes = read_model(
    "rpt_catalog_changes",
    uuid_column("tenant_id", True),
    uuid_column("event_id", True),
    uuid_column("correlation_id"),
    ts_column("occurred_at", nullable=False),
    Column("updated_item_ids", ARRAY(Text), nullable=False),
    Column("full_refresh", Boolean, nullable=False),
    upsert="insert_only",
)


class ReportingModel:
    """Message and delivery counts come from a message's own entity; everything else from
    the flow's flow-wide facts (conversion joins its calls with its bookings)."""

    events = reporting.EVENTS

    def entity_of(self, fact: Fact) -> str:
        if fact.name in conversation.MESSAGE_EVENTS:
            return f"m:{fact.payload['message_id']}"
        return FLOW

    def extra_entities(self, flow: Entity, new: Sequence[Fact]) -> set[str]:
        return set()

    def derive(self, key: str, entities: Mapping[str, Entity], touched: set[str]) -> Rows:
        rows: Rows = {}
        for entity_id in sorted(touched - {FLOW}):
            entity = entities[entity_id]
            facts = items(view(key, entity))
            tenant, correlation = split_key(key)
            message = conversation.message_row(tenant, correlation, entity_id[2:], facts, None)
            extend_rows(rows, {"rpt_facts": reporting.message_fact_rows(message, entity.version)})
        if FLOW in touched:
            extend_rows(rows, reporting.flow_rows(view(key, entities[FLOW])))
        return rows


APP = StreamApp(
    name="reporting",
    summary="Daily per-tenant counts, compliance, subscriptions, catalog changes.",
    domains=("telephony", "conversation", "catalog", "scheduling", "compliance", "billing"),
    model=ReportingModel(),
    tables=(rpt_facts, rpt_compliance, rpt_subscriptions, rpt_catalog_changes),
)
