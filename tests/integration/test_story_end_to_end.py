"""The whole product on the real stack: a missed call becomes a text back, a conversation and
a booking, through signed webhooks, every process running (the demo's story, asserted)."""

from __future__ import annotations

from pathlib import Path

import httpx

from nmc.demo.local_platform import LocalPlatform
from nmc.demo.scenario import ProviderSimulator, new_tenant, play, wait_for_story
from nmc.infra.settings import Settings


def test_missed_call_to_booking_through_every_process(
    test_settings: Settings, tmp_path: Path
) -> None:
    steps: list[str] = []
    with LocalPlatform(test_settings, tmp_path / "logs") as platform, \
            httpx.Client(timeout=30) as client:
        story = new_tenant(platform)
        play(ProviderSimulator(platform, client), story, steps.append)
        state = wait_for_story(platform, story, lambda _what: None, timeout_s=240)
        assert platform.workers_alive()
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
