"""Record keys and the Java client's partitioner, as pure functions.

Other teams' Java, Go and Kafka Streams consumers must land a conversation's events on the
same partition as we do, so the partition is the Java default for keyed records:
``(murmur2(key) & 0x7fffffff) % partitions``. The relay lets librdkafka compute it
(``partitioner=murmur2_random``); this module is the independent reference the tests check it
against. (Relay lanes are not computed here: PostgreSQL's `hashtext` assigns them, in the
outbox table's generated column `lane`.)
"""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK32 = 0xFFFFFFFF


@lru_cache(maxsize=1 << 16)
def record_key(tenant_id: UUID | str, correlation_id: UUID | str) -> str:
    """The catalog's per-conversation ordering key: ``"<tenant_id>:<correlation_id>"``.

    Cached: a batch asks for the same conversation's key several times (its lock, each of its
    events), and turning two UUIDs into text is most of the cost."""
    return f"{tenant_id}:{correlation_id}"


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2``: returns the signed 32-bit value the Java client computes."""
    length = len(data)
    h = (_SEED ^ length) & _MASK32
    tail = length & ~3
    for i in range(0, tail, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK32
        k ^= k >> 24
        k = (k * _M) & _MASK32
        h = (h * _M) & _MASK32
        h ^= k
    rest = length & 3
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK32
    h ^= h >> 13
    h = (h * _M) & _MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: str | bytes, partitions: int) -> int:
    """Partition the Java producer picks for a keyed record."""
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    raw = key.encode("utf-8") if isinstance(key, str) else key
    return (murmur2(raw) & 0x7FFFFFFF) % partitions
