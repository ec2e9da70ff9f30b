"""What `nmc status` knows about the pipeline, and the rules that call it healthy (pure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """When a measure makes the pipeline unhealthy (each is a CLI option of `nmc status`)."""

    max_outbox_age_s: float = 60.0
    """Oldest pending outbox row older than this: the relays are down or behind."""
    max_lag: int = 1000
    """Records a consumer group may be behind on one topic."""
    max_unprocessed_age_s: float = 300.0
    """Event-time age of the oldest record a group has not processed (read-model staleness)."""
    dead_letter_window_s: float = 3600.0
    """Dead letters newer than this make the pipeline unhealthy (older ones are shown only)."""


@dataclass(frozen=True)
class Outbox:
    pending: int
    oldest_pending_age_s: float
    parked: int
    published_last_minute: int

    @property
    def publish_rate(self) -> float:
        """Events per second published over the last minute."""
        return self.published_last_minute / 60.0


@dataclass(frozen=True)
class Relay:
    """One relay process (a PostgreSQL backend holding the member lock) and its lanes."""

    pid: int
    lanes: int
    application: str = ""
    client: str = ""


@dataclass(frozen=True)
class GroupLag:
    """One consumer group on one topic."""

    group: str
    topic: str
    state: str
    lag: int
    oldest_unprocessed_age_s: float | None = None
    expected: bool = False
    """A group of the platform itself (stream apps, reactions): checked whatever its state."""


@dataclass(frozen=True)
class DeadLetters:
    group: str
    total: int
    recent: int
    newest_age_s: float | None


@dataclass(frozen=True)
class Texts:
    """Outbound texts by the states an operator watches (`outbound_messages`)."""

    queued: int = 0
    sending: int = 0
    unknown: int = 0
    """Sent or not, nobody knows (the sender died or timed out mid-call): never resent
    automatically; reconcile each with Twilio (`nmc sender unknown`)."""
    oldest_unknown_age_s: float | None = None


@dataclass(frozen=True)
class Snapshot:
    outbox: Outbox
    relays: list[Relay]
    lanes_total: int
    groups: list[GroupLag]
    missing_groups: list[str]
    dead_letters: list[DeadLetters]
    errors: list[str] = field(default_factory=list)
    """Parts that could not be collected (a service down): the pipeline is not healthy."""
    texts: Texts = field(default_factory=Texts)

    @property
    def lanes_held(self) -> int:
        return sum(r.lanes for r in self.relays)

    def as_json(self, problems: list[str]) -> dict[str, Any]:
        return {
            "healthy": not problems,
            "problems": problems,
            "outbox": {**asdict(self.outbox), "publish_rate": self.outbox.publish_rate},
            "relays": [asdict(r) for r in self.relays],
            "lanes": {"held": self.lanes_held, "total": self.lanes_total},
            "consumer_groups": [asdict(g) for g in self.groups],
            "missing_groups": self.missing_groups,
            "dead_letters": [asdict(d) for d in self.dead_letters],
            "texts": asdict(self.texts),
            "errors": self.errors,
        }


ACTIVE_STATES = frozenset({"STABLE", "PREPARING_REBALANCE", "COMPLETING_REBALANCE"})


def assess(snapshot: Snapshot, limits: Thresholds) -> list[str]:
    """Every reason the pipeline is unhealthy, one line each (empty: healthy)."""
    problems = [f"cannot collect: {e}" for e in snapshot.errors]
    out = snapshot.outbox
    if out.parked:
        problems.append(f"outbox: {out.parked} parked row(s) need an operator"
                        " (`nmc outbox parked`)")
    if snapshot.texts.unknown:
        problems.append(f"texts: {snapshot.texts.unknown} in state unknown need an operator"
                        " to reconcile them with Twilio (`nmc sender unknown`)")
    if not snapshot.relays:
        problems.append("relays: none running (no relay holds the outbox lanes)")
    elif snapshot.lanes_held < snapshot.lanes_total:
        problems.append(f"relays: {snapshot.lanes_total - snapshot.lanes_held} of"
                        f" {snapshot.lanes_total} outbox lanes held by no relay")
    if out.pending and out.oldest_pending_age_s > limits.max_outbox_age_s:
        problems.append(f"outbox: oldest pending row is {out.oldest_pending_age_s:.0f}s old"
                        f" (limit {limits.max_outbox_age_s:.0f}s)")
    for name in snapshot.missing_groups:
        problems.append(f"consumer group {name}: has never committed (not running?)")
    for g in snapshot.groups:
        if not (g.expected or g.state in ACTIVE_STATES):
            continue  # an idle group nobody expects (an old test, a one-off tool)
        if g.lag > limits.max_lag:
            problems.append(f"consumer group {g.group}: {g.lag} records behind on {g.topic}"
                            f" (limit {limits.max_lag})")
        if (g.oldest_unprocessed_age_s is not None
                and g.oldest_unprocessed_age_s > limits.max_unprocessed_age_s):
            problems.append(
                f"consumer group {g.group}: oldest unprocessed event on {g.topic} is"
                f" {g.oldest_unprocessed_age_s:.0f}s old (limit"
                f" {limits.max_unprocessed_age_s:.0f}s)")
    for d in snapshot.dead_letters:
        if d.recent:
            problems.append(f"dead letters: {d.recent} new for {d.group} in the last"
                            f" {limits.dead_letter_window_s:.0f}s")
    return problems
