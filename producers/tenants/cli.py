"""`nmc tenants add|list`: manage the tenant directory."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from producers.tenants.store import DEFAULT_AUTO_REPLY, InvalidTenant, add_tenant, list_tenants

tenants_app = typer.Typer(help="The tenant directory (numbers, Stripe customer).",
                          no_args_is_help=True)
console = Console()


def _engine() -> Engine:
    from nmc.infra.db import make_engine
    from nmc.infra.settings import get_settings

    return make_engine(get_settings().database)


@tenants_app.command("add")
def add(
    name: Annotated[str, typer.Option(help="Business name.")],
    number: Annotated[list[str], typer.Option("--number", help="Twilio number, E.164; repeat.")],
    time_zone: Annotated[str, typer.Option(help="IANA time zone, e.g. America/Los_Angeles.")],
    stripe_customer: Annotated[str | None, typer.Option(help="Stripe customer id (cus_...).")]
    = None,
    auto_reply: Annotated[str, typer.Option(help="Auto-reply template.")] = DEFAULT_AUTO_REPLY,
    tenant_id: Annotated[str | None, typer.Option(help="Tenant uuid (default: new).")] = None,
) -> None:
    """Add a tenant with its Twilio numbers."""
    engine = _engine()
    try:
        with Session(engine) as session, session.begin():
            tenant = add_tenant(
                session,
                name=name,
                numbers=number,
                time_zone=time_zone,
                stripe_customer_id=stripe_customer,
                auto_reply_template=auto_reply,
                tenant_id=uuid.UUID(tenant_id) if tenant_id else None,
            )
    except InvalidTenant as exc:
        for err in exc.errors:
            console.print(f"[red]✗[/] {err}")
        raise typer.Exit(2) from None
    except IntegrityError as exc:
        console.print(f"[red]✗[/] already taken: {exc.orig}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    console.print(f"[green]✓[/] tenant {tenant.tenant_id} ({tenant.name})")


@tenants_app.command("list")
def list_() -> None:
    """List tenants, their numbers and Stripe customer."""
    engine = _engine()
    try:
        with Session(engine) as session:
            rows = list_tenants(session)
    finally:
        engine.dispose()
    table = Table("tenant_id", "name", "numbers", "stripe customer", "time zone")
    for t in rows:
        table.add_row(str(t.tenant_id), t.name, ", ".join(t.numbers),
                      t.stripe_customer_id or "", t.time_zone)
    console.print(table)
