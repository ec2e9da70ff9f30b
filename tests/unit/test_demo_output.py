"""`nmc demo`: which names a run owns (pure), and the catalog table in an 80-column terminal."""

from __future__ import annotations

import uuid
from pathlib import Path

from rich.console import Console

from nmc.contract.examples import example_envelopes
from nmc.contract.keys import java_partition, record_key
from nmc.demo.cleanup import Removed, run_groups, run_topics, suffixed_subjects, suffixed_topics
from nmc.demo.run import catalog_table
from nmc.infra.consume import DecodedRecord

PREFIX = "nmc-demo-1a2b3c4d"


def test_a_run_owns_its_dlq_and_internal_topics_only() -> None:
    topics = [
        "nmc.telephony", "nmc.dlq.nmc-conversation", "nmc.dlq.nmc-demo-1a2b3c4d-conversation",
        "nmc.dlq.nmc-demo-1a2b3c4d-reactions", "nmc-demo-1a2b3c4d-conversation-threads-changelog",
        "nmc-demo-1a2b3c4d-scheduling-__assignor-__leader", "nmc.dlq.nmc-demo-ffffffff-reporting",
        "nmc-demo-1a2b3c4dX-changelog", "__consumer_offsets",
    ]
    assert run_topics(topics, PREFIX) == [
        "nmc-demo-1a2b3c4d-conversation-threads-changelog",
        "nmc-demo-1a2b3c4d-scheduling-__assignor-__leader",
        "nmc.dlq.nmc-demo-1a2b3c4d-conversation",
        "nmc.dlq.nmc-demo-1a2b3c4d-reactions",
    ]
    groups = ["nmc-demo-1a2b3c4d-reporting", "nmc-demo-1a2b3c4d", "nmc-demo-1a2b3c4dd",
              "nmc-conversation-reactions"]
    assert run_groups(groups, PREFIX) == ["nmc-demo-1a2b3c4d", "nmc-demo-1a2b3c4d-reporting"]


def test_an_evolve_run_owns_its_topic_copies_and_their_subjects_only() -> None:
    suffix = ".evolve1a2b3c4d"
    topics = ["nmc.telephony", "nmc.telephony.evolve1a2b3c4d", "nmc.billing.evolve1a2b3c4d",
              "nmc.telephony.evolveffffffff", "nmc.telephony.evolve1a2b3c4d.x"]
    assert suffixed_topics(topics, suffix) == ["nmc.billing.evolve1a2b3c4d",
                                               "nmc.telephony.evolve1a2b3c4d"]
    subjects = ["nmc.telephony-nmc.telephony.v1.CallDetected",
                "nmc.telephony.evolve1a2b3c4d-nmc.telephony.v1.CallDetected",
                "nmc.telephony.evolve1a2b3c4d-nmc.telephony.v2.CallDetected",
                "nmc.telephony.evolveffffffff-nmc.telephony.v1.CallDetected"]
    assert suffixed_subjects(subjects, suffix) == subjects[1:3]


def test_the_cleanup_summary_names_only_what_a_run_has() -> None:
    story = Removed(topics=["a"], groups=["g"], dirs=[Path("/x")])
    assert story.summary() == "removed 1 topics, 1 consumer groups and 1 state directories of " \
                              "this run"
    evolve = Removed(topics=["a"], groups=["g"], subjects=["s", "t"], databases=["d"],
                     failed=["topic b (gone)"])
    assert evolve.summary() == ("removed 1 topics, 1 consumer groups, 2 registry subjects and 1 "
                                "scratch databases of this run; could not remove: topic b (gone)")


def _records() -> list[DecodedRecord]:
    tenant, thread = uuid.uuid4(), uuid.uuid4()
    key = record_key(tenant, thread)
    out = []
    for i, e in enumerate(example_envelopes(tenant, thread)):
        topic = "nmc." + e["event_name"].split(".")[1]
        out.append(DecodedRecord(topic, java_partition(key, 6), i, key, 0,
                                 {"event_name": e["event_name"]}, dict(e), b""))
    return out


def test_catalog_table_fits_80_columns() -> None:
    console = Console(width=80, record=True, color_system=None)
    console.print(catalog_table(_records(), 6))
    text = console.export_text()
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "ComplianceStatusChanged" in text          # the longest event name is not cut
    assert "nmc.conversation" in text
    assert "= java" in text and "java:" not in text   # every partition agrees with Java's
    assert "from_phone +13105551212" in text          # one payload field per line, readable
