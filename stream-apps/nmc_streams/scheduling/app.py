"""The scheduling app: holds and appointments per resource.

Its definition in one place (`APP`): the topic it reads, the events it handles
(`state.EVENTS`, beside the reducer that reads them), its read-model tables and its
`FlowModel`. The rows themselves are derived by `state.derive`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Column, Integer, Text

from nmc.contract.facts import Fact
from nmc_streams.flows import Rows
from nmc_streams.read_model import read_model, ts_column, uuid_column
from nmc_streams.scheduling import state as scheduling
from nmc_streams.state import FLOW, Entity, view
from nmc_streams.stream_app import StreamApp

sched_holds = read_model(
    "sched_holds",
    uuid_column("tenant_id", True),
    uuid_column("hold_id", True),
    uuid_column("correlation_id"),
    uuid_column("resource_id"),
    ts_column("start_at", nullable=False),
    ts_column("end_at", nullable=False),
    Column("status", Text, nullable=False),
    ts_column("held_at"),
    ts_column("released_at"),
    uuid_column("appointment_id", nullable=True),
    Column("version", Integer, nullable=False),
    upsert="versioned",
)
sched_appointments = read_model(
    "sched_appointments",
    uuid_column("tenant_id", True),
    uuid_column("appointment_id", True),
    uuid_column("correlation_id"),
    uuid_column("resource_id"),
    ts_column("start_at", nullable=False),
    ts_column("end_at", nullable=False),
    uuid_column("service_item_id", nullable=True),
    Column("customer_phone", Text),
    uuid_column("hold_id", nullable=True),
    Column("status", Text, nullable=False),
    ts_column("booked_at"),
    ts_column("cancelled_at"),
    Column("cancelled_reason", Text),
    Column("version", Integer, nullable=False),
    upsert="versioned",
)


class SchedulingModel:
    """A flow's scheduling facts are few (holds and bookings of one conversation): one entity,
    all of its rows re-derived when it changes."""

    events = scheduling.EVENTS

    def entity_of(self, fact: Fact) -> str:
        return FLOW

    def extra_entities(self, flow: Entity, new: Sequence[Fact]) -> set[str]:
        return set()

    def derive(self, key: str, entities: Mapping[str, Entity], touched: set[str]) -> Rows:
        return scheduling.derive(view(key, entities[FLOW]))


APP = StreamApp(
    name="scheduling",
    summary="Holds and appointments per resource.",
    domains=("scheduling",),
    model=SchedulingModel(),
    tables=(sched_holds, sched_appointments),
)
