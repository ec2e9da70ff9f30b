"""The writer refuses an occurred_at the broker would refuse (pure part)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from nmc.contract.envelope import Envelope, new_event
from nmc.contract.errors import InvalidEvent
from producers.outbox.config import OutboxConfig
from producers.outbox.writer import OutboxWriter, too_far_ahead

NOW = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)


def _event(occurred_at: datetime) -> Envelope:
    conversation = uuid.uuid4()
    return new_event(
        "nmc.conversation.MessageSent", tenant_id=uuid.uuid4(), correlation_id=conversation,
        occurred_at=occurred_at,
        payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversation),
                 "direction": "out", "status": "queued"},
    )


def test_events_within_the_limit_pass() -> None:
    events = [_event(NOW - timedelta(days=30)), _event(NOW + timedelta(seconds=3000))]
    assert too_far_ahead(events, NOW, 3000) == []


def test_one_event_too_far_ahead_names_occurred_at() -> None:
    errors = too_far_ahead([_event(NOW + timedelta(hours=2))], NOW, 3000)
    assert [e.field for e in errors] == ["occurred_at"]
    assert "7,200s in the future" in errors[0].reason


def test_in_a_batch_the_error_names_the_event() -> None:
    events = [_event(NOW), _event(NOW + timedelta(hours=2)), _event(NOW + timedelta(days=1))]
    assert [e.field for e in too_far_ahead(events, NOW, 3000)] == [
        "events[1].occurred_at", "events[2].occurred_at"]


def test_the_writer_refuses_before_touching_the_database() -> None:
    class NoDatabase(Session):
        def execute(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            raise AssertionError("nothing may be written")

    future = _event(datetime.now(UTC) + timedelta(hours=2))
    with pytest.raises(InvalidEvent) as caught:
        OutboxWriter().append(NoDatabase(), future)
    assert [e.field for e in caught.value.errors] == ["occurred_at"]


def test_a_writer_handed_its_config_reads_no_process_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A composition root's config is what the writer applies (here a 60 s limit, where the
    default is 3000 s); the environment is never read (it says 1 s here)."""
    monkeypatch.setenv("NMC_OUTBOX_MAX_FUTURE_S", "1")
    config = OutboxConfig(max_future_s=60, dual_publish={}, retired={}, store_values=False,
                          schema_id_retry_s=30)
    writer = OutboxWriter(config=config)
    with pytest.raises(InvalidEvent) as caught:
        writer.append(Session(), _event(datetime.now(UTC) + timedelta(seconds=600)))
    assert "at most 60s ahead" in caught.value.errors[0].reason


def test_a_bare_writer_applies_the_defaults_not_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No settings are read below a composition root: a bare writer (tests, tools) takes the
    defaults of `OutboxSettings`' fields, whatever the environment says."""
    monkeypatch.setenv("NMC_OUTBOX_MAX_FUTURE_S", "1")
    monkeypatch.setenv("NMC_DUAL_PUBLISH", '{"nmc.telephony.CallDetected": [1, 2]}')
    assert OutboxConfig.defaults() == OutboxConfig(
        max_future_s=3000.0, dual_publish={}, retired={}, store_values=True,
        schema_id_retry_s=30.0)
    with pytest.raises(InvalidEvent) as caught:
        OutboxWriter().append(Session(), _event(datetime.now(UTC) + timedelta(hours=2)))
    assert "at most 3,000s ahead" in caught.value.errors[0].reason
