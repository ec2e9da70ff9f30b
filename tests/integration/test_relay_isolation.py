"""One bad row parks one row (issue #9): a record the broker refuses as a whole batch
(INVALID_TIMESTAMP for an occurred_at hours ahead) must not park rows of other keys."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from relay_support import WRITER, kafka_events, message, states
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings

from nmc.infra.consume import end_offsets
from nmc.infra.kafka_clients import domain_topics
from producers.outbox.operator import list_parked


def _insert_future_row(engine: Engine, tenant: uuid.UUID, key: uuid.UUID) -> str:
    """A row two hours ahead, inserted as a non-Python writer might (the writer refuses it)."""
    event = message(tenant, key).to_json()
    event["occurred_at"] = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    with engine.begin() as conn:
        conn.execute(text(
            """INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id,
                   correlation_id, occurred_at, payload, topic, record_key)
               VALUES (:event_id, :event_name, :schema_version, :tenant_id, :correlation_id,
                   :occurred_at, CAST(:payload AS jsonb), 'nmc.conversation', :key)"""),
            dict(event, payload=json.dumps(event["payload"]), key=f"{tenant}:{key}"))
    return str(event["event_id"])


@pytest.mark.parametrize("pre_check", [True, False], ids=["relay-pre-check", "broker-refusal"])
def test_a_future_dated_row_parks_only_itself_and_its_keys_later_rows_wait(
    pre_check: bool, test_settings: Settings, engine: Engine,
    relay_thread: Callable[..., Any], wait_until: Callable[..., None],
) -> None:
    """With the pre-check off the broker itself refuses the partition's record batch; the
    relay re-sends the refused rows one by one and parks only the culprit."""
    tenant, bad_key = uuid.uuid4(), uuid.uuid4()
    others = [uuid.uuid4() for _ in range(50)]
    start = end_offsets(test_settings, domain_topics())
    culprit = _insert_future_row(engine, tenant, bad_key)
    behind = [message(tenant, bad_key) for _ in range(2)]
    normal = [message(tenant, k) for k in others] + [message(tenant, k) for k in others[:10]]
    with Session(engine) as s, s.begin():  # everything pending together: one relay batch
        WRITER.append_all(s, normal[:25] + behind[:1] + normal[25:] + behind[1:])
    relay_thread(nmc_relay_poll_interval_s=0.2,
                 nmc_kafka_timestamp_after_max_s=3600.0 if pre_check else 0.0)

    wait_until(lambda: states(engine) == {"published": len(normal), "parked": 1,
                                          "pending": len(behind)},
               "every other key to be published and only the culprit parked")
    parked = list_parked(engine)
    assert [p.event_id for p in parked] == [culprit]
    assert parked[0].blocked_behind == len(behind)
    reason = parked[0].last_error or ""
    if pre_check:
        assert "INVALID_TIMESTAMP" in reason and "ahead" in reason
    else:  # the broker's own verdict on the culprit sent alone
        assert reason.startswith("kafka: ") and "timestamp" in reason.lower(), reason

    seen = kafka_events(test_settings, start, tenant)
    published = {event_id for _, event_id in seen}
    assert published == {str(e.event_id) for e in normal}  # nothing of the blocked key
    for key in others[:10]:  # and keys with two rows kept their order
        of_key = [event_id for k, event_id in seen if k == f"{tenant}:{key}"]
        expected = [str(e.event_id) for e in normal if e.key == f"{tenant}:{key}"]
        assert list(dict.fromkeys(of_key)) == expected
