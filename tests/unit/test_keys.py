"""The partitioner must agree with the Java client bit for bit (DESIGN.md §2)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nmc.contract.keys import java_partition, murmur2, record_key

# Printed by org.apache.kafka.common.utils.Utils.murmur2 from kafka-clients 4.1.1 on this machine.
JAVA_VECTORS = [
    ("21", -973932308, 0),
    ("foobar", -790332482, 0),
    ("a-little-bit-long-string", -985981536, 2),
    ("a-little-bit-longer-string", -1486304829, 5),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, 5),
    ("abc", 479470107, 3),
    ("", 275646681, 3),
    (
        "a7b1d0ee-d0a8-4b3a-9a6c-1a2b3c4d5e6f:2f1a3c4b-8a9d-4a8e-9c22-bf0a1c9d22aa",
        -872160049,
        1,
    ),
]


@pytest.mark.parametrize(("key", "hash_", "partition_of_6"), JAVA_VECTORS)
def test_murmur2_matches_java(key: str, hash_: int, partition_of_6: int) -> None:
    assert murmur2(key.encode()) == hash_
    assert java_partition(key, 6) == partition_of_6


def test_record_key_is_tenant_colon_correlation() -> None:
    assert record_key("t", "c") == "t:c"


def test_partition_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="partitions must be >= 1"):
        java_partition("k", 0)


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=512))
def test_partition_is_in_range_and_stable(key: bytes, partitions: int) -> None:
    p = java_partition(key, partitions)
    assert 0 <= p < partitions
    assert p == java_partition(key, partitions)
    assert -(2**31) <= murmur2(key) < 2**31
