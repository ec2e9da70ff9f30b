"""The demo's story, played through every process of a `LocalPlatform`, and its outcomes: shared
by the plain end-to-end test and its secured-stack twin so both check the same things."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from support.settings import PlatformSettings as Settings

from nmc.demo.local_platform import LocalPlatform
from nmc.demo.scenario import ProviderSimulator, new_tenant, play, wait_for_story


def play_and_check_story(
    settings: Settings, log_dir: Path, targets_dir: Path | None = None,
    while_running: Callable[[LocalPlatform], None] = lambda _platform: None,
) -> LocalPlatform:
    """Run the story on `settings`' stack; assert what the demo shows; the stopped platform
    (its traces removed) for further checks. `while_running` looks at the platform once the
    story is told, before it stops."""
    steps: list[str] = []
    with LocalPlatform(settings, log_dir, targets_dir=targets_dir) as platform, \
            httpx.Client(timeout=30) as client:
        story = new_tenant(platform)
        play(ProviderSimulator(platform, client), story, steps.append)
        state = wait_for_story(platform, story, lambda _what: None, timeout_s=240)
        assert platform.workers_alive()
        while_running(platform)
        auto_replies = platform.twilio.calls_to(story.caller)

    assert auto_replies == 1  # sent once, never twice
    conversation = state["conversation"]
    assert conversation["caller_phone"] == story.caller
    assert conversation["auto_reply"]["decision"] == "queued"
    messages = [(m["direction"], m["status"]) for m in conversation["messages"]]
    assert ("out", "delivered") in messages and ("in", "delivered") in messages
    [appointment] = [a for a in state["appointments"]
                     if a["appointment_id"] == str(story.appointment_id)]
    assert appointment["status"] == "booked"
    assert appointment["customer_phone"] == story.caller
    report = state["report"]
    assert report["missed_calls"] == 1 and report["bookings"] == 1
    assert report["conversations_started"] == 1
    assert report["conversion_rate"] == 1.0
    assert len(steps) == 9
    return platform
