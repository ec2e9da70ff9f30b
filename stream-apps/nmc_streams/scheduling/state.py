"""Scheduling read models derived from one flow's facts (pure, order-independent).

Lifecycles are joins of facts, not transitions, so arrival order cannot matter:
a hold is `booked` when a booking of the same slot (resource, start, end) exists in its flow,
else `released` when released, else `held`; an appointment is `cancelled` once a cancellation
is known, else `booked`. A cancellation that arrives before its booking is kept and the
booking's details fill in when it comes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nmc_streams.state import items, version

EVENTS = frozenset(
    {"AppointmentHeld", "AppointmentBooked", "AppointmentReleased", "AppointmentCancelled"}
)


def _slot(p: Mapping[str, Any]) -> tuple[str, str, str]:
    return (p["resource_id"], p["start"], p["end"])


def derive(state: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Rows of sched_holds and sched_appointments for one flow."""
    tenant, correlation = state["tenant_id"], state["correlation_id"]
    v = version(state)
    appointments: dict[str, dict[str, Any]] = {}
    booked_slots: dict[tuple[str, str, str], str] = {}
    for t, _e, name, p in items(state, "AppointmentBooked", "AppointmentCancelled"):
        row = appointments.setdefault(
            p["appointment_id"],
            {
                "tenant_id": tenant,
                "appointment_id": p["appointment_id"],
                "correlation_id": correlation,
                "resource_id": p["resource_id"],
                "start_at": p["start"],
                "end_at": p["end"],
                "service_item_id": None,
                "customer_phone": None,
                "hold_id": None,
                "status": "booked",
                "booked_at": None,
                "cancelled_at": None,
                "cancelled_reason": None,
                "version": v,
            },
        )
        if name == "AppointmentBooked" and row["booked_at"] is None:
            row.update(
                resource_id=p["resource_id"],
                start_at=p["start"],
                end_at=p["end"],
                service_item_id=p["service_item_id"],
                customer_phone=p["customer_phone"],
                booked_at=t,
            )
            booked_slots.setdefault(_slot(p), p["appointment_id"])
        elif name == "AppointmentCancelled" and row["cancelled_at"] is None:
            row.update(status="cancelled", cancelled_at=t, cancelled_reason=p["cancelled_reason"])
    holds: dict[str, dict[str, Any]] = {}
    for t, _e, name, p in items(state, "AppointmentHeld", "AppointmentReleased"):
        row = holds.setdefault(
            p["hold_id"],
            {
                "tenant_id": tenant,
                "hold_id": p["hold_id"],
                "correlation_id": correlation,
                "resource_id": p["resource_id"],
                "start_at": p["start"],
                "end_at": p["end"],
                "status": "held",
                "held_at": None,
                "released_at": None,
                "appointment_id": None,
                "version": v,
            },
        )
        if name == "AppointmentHeld" and row["held_at"] is None:
            row.update(
                resource_id=p["resource_id"], start_at=p["start"], end_at=p["end"], held_at=t
            )
        elif name == "AppointmentReleased" and row["released_at"] is None:
            row["released_at"] = t
    for hold in holds.values():
        appointment_id = booked_slots.get((hold["resource_id"], hold["start_at"], hold["end_at"]))
        if appointment_id is not None:
            hold.update(status="booked", appointment_id=appointment_id)
            appt = appointments[appointment_id]
            if appt["hold_id"] is None or hold["hold_id"] < appt["hold_id"]:
                appt["hold_id"] = hold["hold_id"]
        elif hold["released_at"] is not None:
            hold["status"] = "released"
    return {
        "sched_holds": sorted(holds.values(), key=lambda r: r["hold_id"]),
        "sched_appointments": sorted(appointments.values(), key=lambda r: r["appointment_id"]),
    }
