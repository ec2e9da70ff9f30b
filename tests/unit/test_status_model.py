"""`nmc status`'s health rules and its screen, without services."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.console import Console

from nmc.status.model import (
    DeadLetters,
    GroupLag,
    Outbox,
    Relay,
    Snapshot,
    Texts,
    Thresholds,
    assess,
)
from nmc.status.view import age, render

LIMITS = Thresholds(max_outbox_age_s=60, max_lag=100, max_unprocessed_age_s=300,
                    dead_letter_window_s=3600)
HEALTHY = Snapshot(
    outbox=Outbox(pending=3, oldest_pending_age_s=0.4, parked=0, published_last_minute=600),
    relays=[Relay(101, 32, "nmc-relay"), Relay(102, 32)],
    lanes_total=64,
    groups=[GroupLag("nmc-streams-conversation", "nmc.telephony", "STABLE", 2, 0.5, True),
            GroupLag("old-test-group", "nmc.telephony", "EMPTY", 99999, 9e6, False)],
    missing_groups=[],
    dead_letters=[DeadLetters("nmc-streams-reporting", 4, 0, 86400.0)],
)


def test_healthy_pipeline_has_no_problems() -> None:
    assert assess(HEALTHY, LIMITS) == []
    assert HEALTHY.outbox.publish_rate == 10.0
    assert HEALTHY.lanes_held == 64


@pytest.mark.parametrize(("snapshot", "problem"), [
    (replace(HEALTHY, relays=[]), "relays: none running"),
    (replace(HEALTHY, relays=[Relay(1, 60)]), "relays: 4 of 64 outbox lanes held by no relay"),
    (replace(HEALTHY, outbox=Outbox(5, 61.0, 0, 0)), "oldest pending row is 61s old"),
    (replace(HEALTHY, outbox=Outbox(0, 0.0, 2, 0)), "2 parked row(s)"),
    (replace(HEALTHY, missing_groups=["nmc-streams-reporting"]),
     "nmc-streams-reporting: has never committed"),
    (replace(HEALTHY, groups=[GroupLag("g", "nmc.billing", "EMPTY", 101, 1.0, True)]),
     "consumer group g: 101 records behind on nmc.billing"),
    (replace(HEALTHY, groups=[GroupLag("g", "nmc.billing", "STABLE", 1, 301.0, False)]),
     "oldest unprocessed event on nmc.billing is 301s old"),
    (replace(HEALTHY, dead_letters=[DeadLetters("g", 5, 2, 10.0)]), "dead letters: 2 new for g"),
    (replace(HEALTHY, errors=["Kafka: down"]), "cannot collect: Kafka: down"),
    (replace(HEALTHY, texts=Texts(queued=3, unknown=2, oldest_unknown_age_s=40.0)),
     "texts: 2 in state unknown"),
])
def test_each_rule(snapshot: Snapshot, problem: str) -> None:
    problems = assess(snapshot, LIMITS)
    assert len(problems) == 1 and problem in problems[0], problems


def test_idle_groups_nobody_expects_are_shown_not_judged() -> None:
    assert assess(replace(HEALTHY, groups=HEALTHY.groups[1:]), LIMITS) == []


def test_json_form() -> None:
    data = HEALTHY.as_json([])
    assert data["healthy"] is True
    assert data["lanes"] == {"held": 64, "total": 64}
    assert data["outbox"]["publish_rate"] == 10.0
    assert data["consumer_groups"][0]["lag"] == 2
    assert data["texts"] == {"queued": 0, "sending": 0, "unknown": 0,
                             "oldest_unknown_age_s": None}


def test_screen_fits_80_columns() -> None:
    console = Console(width=80, record=True, color_system=None)
    bad = replace(HEALTHY, missing_groups=["nmc-conversation-reactions"],
                  texts=Texts(queued=12, sending=8, unknown=1, oldest_unknown_age_s=300.0))
    console.print(render(bad, assess(bad, LIMITS), "2026-11-27 21:00:00 UTC"))
    text = console.export_text()
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "UNHEALTHY (2)" in text
    assert "nmc sender unknown" in text and "5m" in text
    assert "nmc-conversation-reactions" in text
    assert "lanes held 64/64" in text


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (5, "5s"), (300, "5m"), (7300, "2h"), (3 * 86400, "3d")])
def test_age(seconds: float | None, text: str) -> None:
    assert age(seconds) == text
