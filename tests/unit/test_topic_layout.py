"""The partition-count contract (pure decision; no cluster)."""

from __future__ import annotations

from nmc.infra.topics import layout_problem


def test_no_topics_yet_is_fine() -> None:
    assert layout_problem({}, 6) is None


def test_equal_counts_matching_the_setting_are_fine() -> None:
    assert layout_problem({"nmc.telephony": 6, "nmc.billing": 6}, 6) is None


def test_counts_that_differ_from_each_other_are_refused() -> None:
    problem = layout_problem({"nmc.telephony": 6, "nmc.billing": 12}, 6)
    assert problem is not None
    assert "different partition counts" in problem
    assert "nmc.billing=12" in problem and "nmc.telephony=6" in problem


def test_counts_that_differ_from_the_setting_are_refused_with_the_fix() -> None:
    problem = layout_problem({"nmc.telephony": 12, "nmc.billing": 12}, 6)
    assert problem is not None
    assert "NMC_TOPIC_PARTITIONS=12" in problem
