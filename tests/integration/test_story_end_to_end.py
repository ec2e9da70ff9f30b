"""The whole product on the real stack: a missed call becomes a text back, a conversation and
a booking, through signed webhooks, every process running (the demo's story, asserted).
The same story on a secured stack, each process as its own principal: test_cluster_secure."""

from __future__ import annotations

from pathlib import Path

from story_support import play_and_check_story
from support.settings import PlatformSettings as Settings


def test_missed_call_to_booking_through_every_process(
    test_settings: Settings, tmp_path: Path
) -> None:
    platform = play_and_check_story(test_settings, tmp_path / "logs")
    assert not platform.secured and platform.as_principal("relay") is test_settings
