"""Apply the ACL set (`nmc.acl.model.plan`) and SCRAM users through confluent-kafka's Admin API.

Idempotent: existing bindings are left alone, missing ones created, and rules of the managed
principals that the plan no longer has are deleted. Runs as the cluster's admin (a super user:
nobody else may alter ACLs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from nmc.acl.model import (
    STREAM_APPS,
    AclEntry,
    Operation,
    PatternType,
    PlanInputs,
    plan,
    principals,
    role_topics,
)
from nmc.acl.model import ResourceType as ResourceName
from nmc.acl.model import stale as stale_entries
from nmc.infra.kafka_clients import admin_config, ensure_topics
from nmc.infra.settings import ServiceSettings

TIMEOUT_S = 30.0
SCRAM_ITERATIONS = 8192
# librdkafka calls the cluster resource BROKER (named `kafka-cluster`, as Kafka's CLUSTER)
RESOURCE_TYPES: dict[str, ResourceType] = {
    "TOPIC": ResourceType.TOPIC, "GROUP": ResourceType.GROUP, "CLUSTER": ResourceType.BROKER,
    "TRANSACTIONAL_ID": ResourceType.TRANSACTIONAL_ID,
}
RESOURCE_NAMES = {v: k for k, v in RESOURCE_TYPES.items()}


def binding(entry: AclEntry) -> AclBinding:
    """The Admin API's binding of one planned rule (ALLOW from any host)."""
    return AclBinding(
        RESOURCE_TYPES[entry.resource], entry.name, ResourcePatternType[entry.pattern],
        entry.user, "*", AclOperation[entry.operation], AclPermissionType.ALLOW,
    )


def entry_of(found: AclBinding) -> AclEntry | None:
    """A binding read back from the cluster as a planned rule (None: not one we plan)."""
    principal = str(found.principal)
    if (not principal.startswith("User:") or found.permission_type != AclPermissionType.ALLOW
            or found.host != "*" or found.restype not in RESOURCE_NAMES):
        return None
    return AclEntry(
        principal.removeprefix("User:"),
        cast(ResourceName, RESOURCE_NAMES[found.restype]),
        cast(PatternType, ResourcePatternType(found.resource_pattern_type).name),
        found.name,
        cast(Operation, AclOperation(found.operation).name),
    )


def existing(admin: AdminClient) -> list[AclEntry]:
    """Every ALLOW rule on the cluster that has the shape of ours."""
    any_filter = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]
        AclOperation.ANY, AclPermissionType.ANY,
    )
    found = admin.describe_acls(any_filter, request_timeout=TIMEOUT_S).result()
    return [e for b in found if (e := entry_of(b)) is not None]


def apply_acls(config: Mapping[str, Any], wanted: list[AclEntry],
               managed: set[str]) -> tuple[list[AclEntry], list[AclEntry]]:
    """Make the cluster's rules for `managed` principals equal `wanted`: (created, deleted)."""
    admin = AdminClient(dict(config))
    have = set(existing(admin))
    create = [e for e in wanted if e not in have]
    delete = stale_entries(sorted(have), wanted, managed)
    if create:
        for future in admin.create_acls([binding(e) for e in create],
                                        request_timeout=TIMEOUT_S).values():
            future.result()
    if delete:
        delete_acls(config, delete)
    return create, delete


def delete_acls(config: Mapping[str, Any], entries: list[AclEntry]) -> None:
    """Delete exactly these rules (a rule that is not there is no error): how a run that
    granted rules for its own groups takes them back."""
    if not entries:
        return
    admin = AdminClient(dict(config))
    filters = [AclBindingFilter(RESOURCE_TYPES[e.resource], e.name,
                                ResourcePatternType[e.pattern], e.user, "*",
                                AclOperation[e.operation], AclPermissionType.ALLOW)
               for e in entries]
    for future in admin.delete_acls(filters, request_timeout=TIMEOUT_S).values():
        future.result()


def upsert_scram_users(config: Mapping[str, Any], passwords: Mapping[str, str],
                       mechanism: str = "SCRAM-SHA-512") -> None:
    """Create or re-key SCRAM users (also how a password is rotated: the old one stops
    working for new connections at once; established sessions keep theirs)."""
    admin = AdminClient(dict(config))
    mech = ScramMechanism[mechanism.replace("-", "_")]
    alterations: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(user, ScramCredentialInfo(mech, SCRAM_ITERATIONS),
                                     password.encode())
        for user, password in sorted(passwords.items())
    ]
    for future in admin.alter_user_scram_credentials(
            alterations, request_timeout=TIMEOUT_S).values():
        future.result()


def plan_inputs(settings: ServiceSettings) -> PlanInputs:
    """The groups of this deployment's processes, from their settings (NMC_REACTIONS_GROUP,
    NMC_STREAMS_APP_ID_PREFIX)."""
    from nmc_streams.settings import StreamSettings
    from producers.conversation.reactions.settings import ReactorSettings

    return PlanInputs(reactor_group=ReactorSettings().group,
                      streams_prefix=StreamSettings().app_id_prefix)


def apply_plan(
    settings: ServiceSettings,
    inputs: PlanInputs,
) -> tuple[list[AclEntry], list[AclEntry]]:
    """As the admin in `settings`: the DLQ and replay topics of the planned groups (nobody
    else may create them), then the ACL set: (created, deleted) rules."""
    ensure_topics(settings, role_topics(inputs, list(STREAM_APPS)))
    return apply_acls(admin_config(settings), plan(inputs),
                      {p.name for p in principals(inputs)})
