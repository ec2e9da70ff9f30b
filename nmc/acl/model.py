"""The platform's Kafka principals and the ACL set each one gets: pure, no Kafka client.

Least privilege per process (issue #23): every principal may do its own job and nothing else;
only the super user (the cluster's admin) creates, deletes or alters topics, configs and ACLs.
`plan` is the single description of the set; `nmc acl plan` prints it, `nmc acl apply` and
`nmc stack up --secure` apply it through the Admin API (`nmc.acl.admin`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from nmc.contract.dead_letter import dlq_topic, replay_topic
from nmc.contract.schemas import DOMAINS, topic_for

ResourceType = Literal["TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID"]
PatternType = Literal["LITERAL", "PREFIXED"]
Operation = Literal["READ", "WRITE", "DESCRIBE", "IDEMPOTENT_WRITE", "CREATE"]

CLUSTER = "kafka-cluster"
WILDCARD = "*"

RELAY: Final = "relay"
REACTOR: Final = "reactor"
STREAMS: Final = "streams"
TEAM_EXAMPLE: Final = "team-example"
OPERATOR: Final = "operator"
#: The stream apps (`nmc worker <app>`): each one's group is `<streams prefix>-<app>`.
STREAM_APPS: Final = ("conversation", "scheduling", "reporting")

#: Consumer groups of the operator tools (`nmc tail`, `nmc status`, `nmc dlq`, the readers of
#: `nmc.infra.consume`): they assign partitions and never commit, but librdkafka still names
#: a group.
OPERATOR_GROUP_PREFIXES = ("nmc-tail-", "nmc-status-", "nmc-dlq-", "nmc-offsets-probe",
                           "nmc-reader")


@dataclass(frozen=True, order=True)
class AclEntry:
    """One ALLOW rule: `principal` may `operation` on the resource (`name`, matched per
    `pattern`) from any host. Everything no rule allows is denied
    (`allow.everyone.if.no.acl.found=false`)."""

    principal: str
    resource: ResourceType
    pattern: PatternType
    name: str
    operation: Operation

    @property
    def user(self) -> str:
        """The Kafka principal string (`User:<name>`)."""
        return f"User:{self.principal}"

    def describe(self) -> str:
        """One line, as `kafka-acls --list` shows a rule."""
        return (f"{self.user:<18} ALLOW {self.operation:<16} {self.resource:<8}"
                f" {self.pattern:<8} {self.name}")


@dataclass(frozen=True)
class PlanInputs:
    """What the ACL set depends on: the groups the deployment's processes use.

    Each defaults to the platform's default setting (NMC_REACTIONS_GROUP,
    NMC_STREAMS_APP_ID_PREFIX); a consumer team's group prefix is `<team principal>.`.
    """

    reactor_group: str = "nmc-conversation-reactions"
    streams_prefix: str = "nmc-streams"
    team_principal: str = TEAM_EXAMPLE

    @property
    def streams_group_prefix(self) -> str:
        """Every stream app's group is `<prefix>-<app>` (rebuilds: `<prefix>-<app>-rebuild-*`)."""
        return f"{self.streams_prefix}-"

    @property
    def team_group_prefix(self) -> str:
        return f"{self.team_principal}."


@dataclass(frozen=True)
class Principal:
    """A process' identity: its Kafka (SCRAM) user and what it is for."""

    name: str
    purpose: str


def principals(inputs: PlanInputs = PlanInputs()) -> list[Principal]:
    """The platform's principals besides the admin (the super user), in documentation order."""
    return [
        Principal(RELAY, "outbox relay: produces (idempotently) to the domain topics only"),
        Principal(REACTOR, "conversation reactor: reads the domain topics in its group, writes "
                  "its DLQ, reads its replay topic"),
        Principal(STREAMS, "stream workers: read the domain topics in their groups, write their "
                  "DLQs, read their replay topics"),
        Principal(inputs.team_principal, "an example consuming team: reads the domain topics "
                  "in its own group prefix, nothing else"),
        Principal(OPERATOR, "operator tools (nmc tail/status/dlq): read every nmc.* topic, "
                  "describe every group, send replays"),
    ]


def domain_topics() -> list[str]:
    return [topic_for(d) for d in DOMAINS]


def _topics(principal: str, names: list[str], *ops: Operation,
            pattern: PatternType = "LITERAL") -> list[AclEntry]:
    return [AclEntry(principal, "TOPIC", pattern, n, op) for n in names for op in ops]


def _consumer(principal: str, group_prefix: str) -> list[AclEntry]:
    """Read (and describe) the domain topics, in groups under `group_prefix` only."""
    return [
        *_topics(principal, domain_topics(), "READ", "DESCRIBE"),
        AclEntry(principal, "GROUP", "PREFIXED", group_prefix, "READ"),
        AclEntry(principal, "GROUP", "PREFIXED", group_prefix, "DESCRIBE"),
    ]


def _dead_letters(principal: str, group_prefix: str) -> list[AclEntry]:
    """Write the DLQ and read the replay topics of its own groups (`nmc.dlq.<group>`,
    `nmc.replay.<group>`); the admin creates them (`role_topics`)."""
    return [
        *_topics(principal, [dlq_topic(group_prefix)], "WRITE", "DESCRIBE", pattern="PREFIXED"),
        *_topics(principal, [replay_topic(group_prefix)], "READ", "DESCRIBE",
                 pattern="PREFIXED"),
    ]


def plan(inputs: PlanInputs = PlanInputs()) -> list[AclEntry]:
    """Every ACL of the platform's principals, sorted (the admin needs none: super user).

    Nobody gets CREATE, DELETE, ALTER or ALTER_CONFIGS: topics (domain, DLQ and replay) are
    created by the admin (`nmc stack up`, `nmc acl apply`), and a process that finds its
    topics missing fails with TOPIC_AUTHORIZATION_FAILED instead of creating them.
    """
    relay = [
        *_topics(RELAY, domain_topics(), "WRITE", "DESCRIBE"),
        # Kafka >= 3 only needs WRITE for an idempotent producer (KIP-679); older brokers
        # also want IDEMPOTENT_WRITE on the cluster.
        AclEntry(RELAY, "CLUSTER", "LITERAL", CLUSTER, "IDEMPOTENT_WRITE"),
    ]
    reactor = [*_consumer(REACTOR, inputs.reactor_group),
               *_dead_letters(REACTOR, inputs.reactor_group)]
    streams = [*_consumer(STREAMS, inputs.streams_group_prefix),
               *_dead_letters(STREAMS, inputs.streams_group_prefix)]
    team = _consumer(inputs.team_principal, inputs.team_group_prefix)
    operator = [
        *_topics(OPERATOR, ["nmc."], "READ", "DESCRIBE", pattern="PREFIXED"),
        *_topics(OPERATOR, [replay_topic("")], "WRITE", pattern="PREFIXED"),
        AclEntry(OPERATOR, "GROUP", "LITERAL", WILDCARD, "DESCRIBE"),
        *(AclEntry(OPERATOR, "GROUP", "PREFIXED", g, "READ") for g in OPERATOR_GROUP_PREFIXES),
        AclEntry(OPERATOR, "CLUSTER", "LITERAL", CLUSTER, "DESCRIBE"),
    ]
    return sorted({*relay, *reactor, *streams, *team, *operator})


def role_topics(inputs: PlanInputs, stream_apps: list[str]) -> list[str]:
    """The DLQ and replay topics the admin creates for the groups in `inputs` (the processes
    may write or read them but not create them): the reactor's and each stream app's."""
    groups = [inputs.reactor_group, *(f"{inputs.streams_prefix}-{a}" for a in stream_apps)]
    return [t for g in groups for t in (dlq_topic(g), replay_topic(g))]


def stale(existing: list[AclEntry], wanted: list[AclEntry],
          managed: set[str]) -> list[AclEntry]:
    """ACLs of the `managed` principals that the plan no longer has (to delete on apply:
    a rule dropped from the plan must not linger on the cluster)."""
    keep = set(wanted)
    return sorted(e for e in existing if e.principal in managed and e not in keep)
