"""`nmc acl plan|apply`: the platform's Kafka ACL set, printed or applied to your cluster.

`apply` connects with the environment's settings (KAFKA_SASL_USERNAME must be a super user or
hold ALTER on the cluster); it creates the DLQ and replay topics the rules name, adds missing
rules and removes rules of the platform's principals that the plan no longer has. Users
(SCRAM credentials) are yours to create on your own cluster; the local secured stack creates
its own (`nmc stack up --secure`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from typing import Annotated

import typer
from rich.console import Console

from nmc.acl.model import AclEntry, principals

acl_app = typer.Typer(help="Kafka ACLs per principal: print or apply the platform's set.",
                      no_args_is_help=True)
err = Console(stderr=True)

TeamOption = Annotated[
    str, typer.Option("--team", help="Principal of the example consuming team (its group "
                      "prefix is `<team>.`).")
]


def _entries(team: str) -> tuple[list[AclEntry], set[str]]:
    from nmc.acl.admin import plan_inputs
    from nmc.acl.model import plan
    from nmc.infra.settings import get_settings

    inputs = replace(plan_inputs(get_settings()), team_principal=team)
    return plan(inputs), {p.name for p in principals(inputs)}


@acl_app.command("plan")
def plan_command(
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    team: TeamOption = "team-example",
) -> None:
    """Print every rule (ALLOW; everything else is denied) for the principals of the platform,
    from NMC_REACTIONS_GROUP and NMC_STREAMS_APP_ID_PREFIX."""
    entries, _ = _entries(team)
    if fmt == "json":
        sys.stdout.write(json.dumps([asdict(e) for e in entries], indent=2) + "\n")
        return
    if fmt != "text":
        err.print(f"[red]error:[/] --format {fmt!r}: text or json")
        raise typer.Exit(code=2)
    for p in principals():
        sys.stdout.write(f"# User:{p.name}: {p.purpose}\n")
    sys.stdout.write("# super users (no rules needed): the admin, the brokers' certificate\n")
    sys.stdout.write("".join(e.describe() + "\n" for e in entries))


@acl_app.command("apply")
def apply_command(team: TeamOption = "team-example") -> None:
    """Apply the plan through the Admin API, as the environment's (admin) login."""
    from confluent_kafka import KafkaException

    from nmc.acl.admin import apply_plan, plan_inputs
    from nmc.infra.settings import get_settings

    settings = get_settings()
    inputs = replace(plan_inputs(settings), team_principal=team)
    try:
        created, deleted = apply_plan(settings, inputs)
    except KafkaException as exc:
        err.print(f"[red]error:[/] applying the ACLs failed: {exc}", soft_wrap=True)
        raise typer.Exit(code=1) from None
    for entry in created:
        sys.stdout.write(f"+ {entry.describe()}\n")
    for entry in deleted:
        sys.stdout.write(f"- {entry.describe()}\n")
    err.print(f"{len(created)} rule(s) added, {len(deleted)} removed")
