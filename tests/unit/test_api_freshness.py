"""The read API's freshness check, its pure parts: entity tags and the batching of concurrent
version lookups (`nmc_streams.api.freshness`), against a stand-in database whose lookups the
test holds and releases. Starts nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from nmc_streams.api.freshness import CONVERSATIONS, VersionLookups, entity_tag

T1, T2, T3 = (uuid.UUID(int=n) for n in (1, 2, 3))


def test_a_tag_names_tenant_format_version_and_resource() -> None:
    base = entity_tag(T1, "f-1", 7, "list||20")
    assert base == entity_tag(T1, "f-1", 7, "list||20")  # stable across processes
    for other in (entity_tag(T2, "f-1", 7, "list||20"), entity_tag(T1, "f-2", 7, "list||20"),
                  entity_tag(T1, "f-1", 8, "list||20"), entity_tag(T1, "f-1", None, "list||20"),
                  entity_tag(T1, "f-1", 7, "list||50")):
        assert other != base
    assert len(base) == 32 and base.isalnum()


class HeldDatabase:
    """`Database.run` whose lookups wait until the test releases them; records each one."""

    def __init__(self, versions: dict[uuid.UUID, int]) -> None:
        self.versions = versions
        self.lookups: list[list[uuid.UUID]] = []
        self.release = asyncio.Event()
        self.fail: Exception | None = None

    async def run(self, fn: Any, scope: str, tenants: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        assert scope == CONVERSATIONS
        self.lookups.append(tenants)
        snapshot = dict(self.versions)  # what the statement would see when it starts
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return {t: snapshot[t] for t in tenants if t in snapshot}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_concurrent_checks_share_one_lookup() -> None:
    db = HeldDatabase({T1: 5, T2: 9})
    lookups = VersionLookups(db)  # type: ignore[arg-type]
    asking = [asyncio.create_task(lookups.version(t, CONVERSATIONS)) for t in (T1, T2, T1, T3)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    db.release.set()
    assert await asyncio.gather(*asking) == [5, 9, 5, None]
    assert db.lookups == [[T1, T2, T3]]


@pytest.mark.anyio
async def test_a_check_never_joins_a_lookup_already_sent() -> None:
    """The property that keeps 304s exact: a request that arrives after a lookup was sent
    (and may already have its snapshot) waits for the next one, which sees what was
    committed before the request arrived."""
    db = HeldDatabase({T1: 5})
    lookups = VersionLookups(db)  # type: ignore[arg-type]
    first = asyncio.create_task(lookups.version(T1, CONVERSATIONS))
    while not db.lookups:
        await asyncio.sleep(0)
    db.versions[T1] = 6  # a commit after the first lookup's snapshot ...
    late = asyncio.create_task(lookups.version(T1, CONVERSATIONS))  # ... then a request
    await asyncio.sleep(0)
    assert len(db.lookups) == 1  # one in flight at a time: the late one waits
    db.release.set()
    assert (await first, await late) == (5, 6)
    assert len(db.lookups) == 2


@pytest.mark.anyio
async def test_a_failed_lookup_fails_its_waiters_and_the_next_one_runs() -> None:
    db = HeldDatabase({T1: 5})
    lookups = VersionLookups(db)  # type: ignore[arg-type]
    db.fail = ConnectionError("gone")
    asking = asyncio.create_task(lookups.version(T1, CONVERSATIONS))
    await asyncio.sleep(0)
    db.release.set()
    with pytest.raises(ConnectionError):
        await asking
    db.fail = None
    assert await lookups.version(T1, CONVERSATIONS) == 5


@pytest.mark.anyio
async def test_a_cancelled_request_cancels_nobody_else() -> None:
    db = HeldDatabase({T1: 5})
    lookups = VersionLookups(db)  # type: ignore[arg-type]
    gone = asyncio.create_task(lookups.version(T1, CONVERSATIONS))
    stays = asyncio.create_task(lookups.version(T1, CONVERSATIONS))
    while not db.lookups:
        await asyncio.sleep(0)
    gone.cancel()
    db.release.set()
    assert await stays == 5
    with pytest.raises(asyncio.CancelledError):
        await gone
