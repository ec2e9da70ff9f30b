"""The shape of the local stack (brokers, security) and the client settings it needs."""

from __future__ import annotations

import json
import shlex
from typing import Literal

from nmc.stack import secure
from nmc.stack.layout import Layout
from nmc.stack.settings import StackSettings


def shaped(settings: StackSettings, *, secure: bool, brokers: int) -> StackSettings:
    """`settings` with the CLI's `--secure` / `--brokers` applied (0 brokers: unchanged).

    Several brokers raise the replication factor of created topics to min(3, brokers) unless
    NMC_TOPIC_REPLICATION asks for more than 1 explicitly.
    """
    update: dict[str, object] = {}
    if secure:
        update["nmc_stack_secure"] = True
    if brokers:
        update["nmc_stack_brokers"] = brokers
        if settings.nmc_topic_replication == 1:
            update["nmc_topic_replication"] = min(3, brokers)
    return settings.model_copy(update=update) if update else settings


def client_settings(
    settings: StackSettings, principal: str = secure.ADMIN_USER
) -> tuple[StackSettings, dict[str, str]]:
    """Settings a platform process uses against this stack, and the variables that give them.

    A secured stack: those of `principal` (`nmc.stack.secure.PRINCIPALS`; the admin's by
    default, which the stack's own set-up uses). A plain single broker needs nothing (empty
    exports: today's behaviour)."""
    exports: dict[str, str] = {}
    clients = settings
    if settings.uses_local_kafka and settings.nmc_stack_secure:
        material = secure.ensure_material(Layout.of(settings).home)
        registry_auth = settings.uses_local_registry
        clients = settings.model_copy(
            update={"connection": material.connection(principal, registry_auth=registry_auth)}
        )
        exports |= secure.client_env(material, registry_auth=registry_auth, principal=principal)
    if settings.uses_local_kafka and settings.nmc_stack_brokers > 1:
        exports["NMC_STACK_BROKERS"] = str(settings.nmc_stack_brokers)
        exports["NMC_TOPIC_REPLICATION"] = str(settings.nmc_topic_replication)
    return clients, exports


ExportFormat = Literal["shell", "dotenv", "json"]


def render_exports(exports: dict[str, str], fmt: ExportFormat = "shell") -> str:
    """The client settings as text a machine reads: one unwrapped line per variable (shell:
    `export K=V` quoted for `eval`; dotenv: `K=V` quoted; json: one object)."""
    if fmt == "json":
        return json.dumps(exports, indent=2, sort_keys=True) + "\n"
    prefix = "export " if fmt == "shell" else ""
    return "".join(f"{prefix}{key}={shlex.quote(value)}\n" for key, value in exports.items())
