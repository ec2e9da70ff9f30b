"""Contract suites of the ports: one abstract suite per port, inherited by a test class per
adapter (the in-memory ones in tests/unit, the PostgreSQL ones in tests/integration), so every
adapter is held to the same behaviour — pyeventsourcing's pattern.

A subclass provides `store()`; pytest collects the inherited `test_*` methods for it.
"""

from __future__ import annotations

import uuid
from typing import Any

from nmc.infra.dead_letters import DeadLetterStore
from nmc_streams.batch import StateStore


def _letter(group: str, offset: int, **extra: Any) -> dict[str, Any]:
    return {"group_id": group, "app": "reactions", "topic": "nmc.telephony", "partition": 2,
            "offset": offset, "record_key": "t:c", "event_id": str(uuid.uuid4()),
            "event_name": "nmc.telephony.CallDetected", "tenant_id": str(uuid.uuid4()),
            "event": None, "raw_value": b"\x00\x00\x00\x00\x01raw",
            "headers": {"event_name": "nmc.telephony.CallDetected"},
            "error": "permanent: boom", "attempts": 1, **extra}


class DeadLetterStoreContract:
    """What every `DeadLetterStore` does."""

    def store(self) -> DeadLetterStore:
        raise NotImplementedError

    def test_a_letter_is_kept_with_its_bytes_headers_and_error(self) -> None:
        store, group = self.store(), f"g-{uuid.uuid4()}"
        letter = _letter(group, 7)
        store.record(letter)
        [row] = store.rows(group)
        assert row == letter

    def test_a_redelivered_record_is_kept_once(self) -> None:
        store, group = self.store(), f"g-{uuid.uuid4()}"
        first = _letter(group, 7)
        store.record(first)
        store.record(_letter(group, 7, error="second attempt", attempts=5))
        assert [r["error"] for r in store.rows(group)] == ["permanent: boom"]

    def test_offsets_and_groups_are_apart(self) -> None:
        store, group, other = self.store(), f"g-{uuid.uuid4()}", f"g-{uuid.uuid4()}"
        for offset in (3, 1, 2):
            store.record(_letter(group, offset))
        store.record(_letter(other, 1))
        assert [r["offset"] for r in store.rows(group)] == [3, 1, 2]
        assert [r["group_id"] for r in store.rows(other)] == [other]


class StateStoreContract:
    """What every projector `StateStore` does (entity states; rows go with them)."""

    def store(self) -> StateStore:
        raise NotImplementedError

    def test_missing_entities_are_absent(self) -> None:
        assert self.store().load({(f"t:{uuid.uuid4()}", "conversation")}) == {}

    def test_written_states_load_back(self) -> None:
        store, key = self.store(), f"t:{uuid.uuid4()}"
        state = {"facts": [{"n": "CallDetected", "t": "2026-01-01T00:00:00.000Z"}], "seen": 1}
        store.write({(key, "conversation"): (state, 1)}, {})
        assert store.load({(key, "conversation"), (key, "other")}) == {
            (key, "conversation"): state}

    def test_an_older_version_never_replaces_a_newer_one(self) -> None:
        store, key = self.store(), f"t:{uuid.uuid4()}"
        store.write({(key, "e"): ({"v": "new"}, 5)}, {})
        store.write({(key, "e"): ({"v": "stale"}, 4)}, {})
        assert store.load({(key, "e")}) == {(key, "e"): {"v": "new"}}
        store.write({(key, "e"): ({"v": "same version, later write"}, 5)}, {})
        assert store.load({(key, "e")}) == {(key, "e"): {"v": "same version, later write"}}

    def test_states_and_rows_are_written_together_or_not_at_all(self) -> None:
        store, key = self.store(), f"t:{uuid.uuid4()}"
        try:
            store.write({(key, "e"): ({"v": 1}, 1)}, {"no_such_read_model": [{"x": 1}]})
        except Exception:
            pass
        else:
            raise AssertionError("a row for an unknown table was accepted")
        assert store.load({(key, "e")}) == {}
