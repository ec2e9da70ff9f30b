"""Tenant directory access: every edge resolves its tenant here from provider data.

Inputs are validated before anything is written (E.164 numbers, IANA time zone), so a tenant
in the table can always be used to build valid events.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from nmc.contract.errors import FieldError
from nmc.contract.payload import check_e164
from producers.tenants.table import tenant_numbers, tenants

DEFAULT_AUTO_REPLY = (
    "Sorry we missed your call to {business}. Reply here and we'll get you booked."
)


class UnknownTenant(LookupError):
    """No tenant owns the given provider identifier (number, Stripe customer, id)."""


class InvalidTenant(ValueError):
    """Tenant input that breaks a rule; carries one `FieldError` per problem."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("invalid tenant: " + "; ".join(str(e) for e in errors))


@dataclass(frozen=True)
class Tenant:
    tenant_id: UUID
    name: str
    numbers: tuple[str, ...]
    stripe_customer_id: str | None
    auto_reply_template: str
    time_zone: str


Db = Session | Connection


def _validate(
    name: str, numbers: Sequence[str], time_zone: str, template: str
) -> list[FieldError]:
    errors: list[FieldError] = []
    if not name.strip():
        errors.append(FieldError("name", "must not be empty"))
    if not numbers:
        errors.append(FieldError("numbers", "at least one Twilio number is required"))
    for i, number in enumerate(numbers):
        try:
            check_e164(number)
        except ValueError as exc:
            errors.append(FieldError(f"numbers[{i}]", str(exc)))
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(FieldError("time_zone", f"not an IANA time zone: {time_zone!r}"))
    if not template.strip():
        errors.append(FieldError("auto_reply_template", "must not be empty"))
    return errors


def add_tenant(
    db: Db,
    *,
    name: str,
    numbers: Sequence[str],
    time_zone: str,
    stripe_customer_id: str | None = None,
    auto_reply_template: str = DEFAULT_AUTO_REPLY,
    tenant_id: UUID | None = None,
) -> Tenant:
    """Insert a tenant and its numbers in the caller's transaction (commits nothing).

    Raises `InvalidTenant` before writing; a number or Stripe customer already owned by
    another tenant surfaces as the database's unique violation.
    """
    errors = _validate(name, numbers, time_zone, auto_reply_template)
    if errors:
        raise InvalidTenant(errors)
    tid = tenant_id or uuid.uuid4()
    db.execute(
        tenants.insert().values(
            tenant_id=tid,
            name=name.strip(),
            stripe_customer_id=stripe_customer_id or None,
            auto_reply_template=auto_reply_template,
            time_zone=time_zone,
        )
    )
    db.execute(tenant_numbers.insert(), [{"phone": n, "tenant_id": tid} for n in numbers])
    return Tenant(tid, name.strip(), tuple(numbers), stripe_customer_id or None,
                  auto_reply_template, time_zone)


def _numbers(db: Db, tenant_id: UUID) -> tuple[str, ...]:
    rows = db.execute(
        select(tenant_numbers.c.phone)
        .where(tenant_numbers.c.tenant_id == tenant_id)
        .order_by(tenant_numbers.c.phone)
    )
    return tuple(r.phone for r in rows)


def _tenant(db: Db, where: object) -> Tenant:
    row = db.execute(select(tenants).where(where)).first()  # type: ignore[arg-type]
    if row is None:
        raise UnknownTenant(str(where))
    return Tenant(
        row.tenant_id,
        row.name,
        _numbers(db, row.tenant_id),
        row.stripe_customer_id,
        row.auto_reply_template,
        row.time_zone,
    )


def get_tenant(db: Db, tenant_id: UUID) -> Tenant:
    """The tenant with this id, or `UnknownTenant`."""
    return _tenant(db, tenants.c.tenant_id == tenant_id)


def tenant_for_number(db: Db, phone: str) -> Tenant:
    """The tenant owning a Twilio number (the called / sending number), or `UnknownTenant`."""
    row = db.execute(
        select(tenant_numbers.c.tenant_id).where(tenant_numbers.c.phone == phone)
    ).first()
    if row is None:
        raise UnknownTenant(f"no tenant owns the number {phone}")
    return get_tenant(db, row.tenant_id)


def tenant_for_stripe_customer(db: Db, customer_id: str) -> Tenant:
    """The tenant billed as this Stripe customer, or `UnknownTenant`."""
    row = db.execute(
        select(tenants.c.tenant_id).where(tenants.c.stripe_customer_id == customer_id)
    ).first()
    if row is None:
        raise UnknownTenant(f"no tenant has the Stripe customer {customer_id}")
    return get_tenant(db, row.tenant_id)


def list_tenants(db: Db) -> list[Tenant]:
    """Every tenant, by name."""
    ids = db.execute(select(tenants.c.tenant_id).order_by(tenants.c.name, tenants.c.tenant_id))
    return [get_tenant(db, r.tenant_id) for r in ids]
