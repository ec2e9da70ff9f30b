"""A secured local stack's authorization: its SCRAM users and the platform's ACL set.

Applied after every start of a secured Kafka (idempotent): each principal's user is upserted
with the password in the stack's secrets (so a rotated one takes effect), then the DLQ/replay
topics and ACLs of `nmc.acl.model.plan`.
"""

from __future__ import annotations

from nmc.acl.admin import apply_plan, plan_inputs, upsert_scram_users
from nmc.infra.kafka_clients import admin_config
from nmc.stack import secure
from nmc.stack.layout import Layout
from nmc.stack.model import Say
from nmc.stack.settings import StackSettings


def admin_settings(settings: StackSettings, layout: Layout) -> StackSettings:
    """`settings` connecting as the secured stack's admin (Kafka super user, registry sr-admin)."""
    material = secure.ensure_material(layout.home)
    return settings.model_copy(update={"connection": material.connection(
        secure.ADMIN_USER, registry_auth=settings.uses_local_registry)})


def provision(settings: StackSettings, layout: Layout, say: Say) -> None:
    """Users, topics and ACLs of the secured stack, as its admin."""
    material = secure.ensure_material(layout.home)
    admin = admin_settings(settings, layout)
    upsert_scram_users(admin_config(admin),
                       {p: material.password(p) for p in secure.PRINCIPALS},
                       secure.MECHANISM)
    created, deleted = apply_plan(admin, plan_inputs(settings))
    say(f"kafka ACLs: {len(secure.PRINCIPALS)} users, {len(created)} rule(s) added, "
        f"{len(deleted)} removed (nmc acl plan lists them)")
