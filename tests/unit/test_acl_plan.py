"""The ACL set (nmc.acl.model.plan): each principal gets its own job and nothing else."""

from __future__ import annotations

from nmc.acl.model import (
    OPERATOR,
    REACTOR,
    RELAY,
    STREAMS,
    TEAM_EXAMPLE,
    AclEntry,
    PlanInputs,
    domain_topics,
    plan,
    principals,
    role_topics,
    stale,
)


def _of(principal: str, inputs: PlanInputs = PlanInputs()) -> set[tuple[str, str, str, str]]:
    return {(e.resource, e.pattern, e.name, e.operation) for e in plan(inputs)
            if e.principal == principal}


def test_nobody_may_create_delete_or_alter() -> None:
    assert {e.operation for e in plan()} <= {"READ", "WRITE", "DESCRIBE", "IDEMPOTENT_WRITE"}
    assert all(e.principal != "admin" for e in plan())  # the admin is a super user


def test_the_relay_writes_the_domain_topics_only() -> None:
    rules = _of(RELAY)
    assert {n for (r, _, n, op) in rules if op == "WRITE"} == set(domain_topics())
    assert all(p == "LITERAL" for (_, p, _, _) in rules)  # not nmc.* (DLQs, replays)
    assert ("CLUSTER", "LITERAL", "kafka-cluster", "IDEMPOTENT_WRITE") in rules
    assert not any(r == "GROUP" or op == "READ" for (r, _, _, op) in rules)


def test_the_team_reads_the_domain_topics_in_its_own_groups() -> None:
    rules = _of(TEAM_EXAMPLE)
    assert {(r, op) for (r, _, _, op) in rules} == {
        ("TOPIC", "READ"), ("TOPIC", "DESCRIBE"), ("GROUP", "READ"), ("GROUP", "DESCRIBE")}
    assert {n for (r, _, n, _) in rules if r == "GROUP"} == {"team-example."}
    assert {n for (r, _, n, _) in rules if r == "TOPIC"} == set(domain_topics())
    other = _of("billing-team", PlanInputs(team_principal="billing-team"))
    assert {n for (r, _, n, _) in other if r == "GROUP"} == {"billing-team."}


def test_workers_write_their_dead_letters_and_read_their_replays() -> None:
    inputs = PlanInputs(reactor_group="reactions", streams_prefix="acme")
    reactor, streams = _of(REACTOR, inputs), _of(STREAMS, inputs)
    assert ("TOPIC", "PREFIXED", "nmc.dlq.reactions", "WRITE") in reactor
    assert ("TOPIC", "PREFIXED", "nmc.replay.reactions", "READ") in reactor
    assert ("GROUP", "PREFIXED", "reactions", "READ") in reactor
    assert ("GROUP", "PREFIXED", "acme-", "READ") in streams
    assert ("TOPIC", "PREFIXED", "nmc.dlq.acme-", "WRITE") in streams
    # nobody but the relay writes the domain topics
    writers = {e.principal for e in plan(inputs) if e.operation == "WRITE"
               and e.name in domain_topics()}
    assert writers == {RELAY}
    assert role_topics(inputs, ["conversation"]) == [
        "nmc.dlq.reactions", "nmc.replay.reactions",
        "nmc.dlq.acme-conversation", "nmc.replay.acme-conversation"]


def test_the_operator_reads_everything_and_only_writes_replays() -> None:
    rules = _of(OPERATOR)
    assert {n for (_, _, n, op) in rules if op == "WRITE"} == {"nmc.replay."}
    assert ("GROUP", "LITERAL", "*", "DESCRIBE") in rules
    assert not any(r == "GROUP" and n == "*" and op == "READ" for (r, _, n, op) in rules)


def test_every_planned_principal_is_listed() -> None:
    assert {e.principal for e in plan()} == {p.name for p in principals()}


def test_stale_rules_of_managed_principals_are_removed_only() -> None:
    keep = AclEntry(RELAY, "TOPIC", "LITERAL", "nmc.telephony", "WRITE")
    old = AclEntry(RELAY, "TOPIC", "PREFIXED", "nmc.", "WRITE")
    foreign = AclEntry("someone-else", "TOPIC", "LITERAL", "theirs", "READ")
    assert stale([keep, old, foreign], [keep], {RELAY}) == [old]
