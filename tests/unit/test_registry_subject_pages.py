"""`Registry.subjects` reads every page: Apicurio's compatibility API answers at most 1,000
subjects per request, so a busy registry's cleanup and retire used to miss subjects."""

from __future__ import annotations

import httpx
import pytest

from nmc.schema_gate.registry_api import SUBJECTS_PAGE, Registry


def _registry(handler: httpx.MockTransport) -> Registry:
    registry = Registry("http://registry.test/apis/ccompat/v7")
    registry.http = httpx.Client(transport=handler)
    return registry


@pytest.mark.parametrize("total", [0, 5, SUBJECTS_PAGE, SUBJECTS_PAGE * 2 + 291])
def test_every_page_is_read_from_a_registry_that_pages(total: int) -> None:
    names = [f"s{i:05d}" for i in range(total)]

    def paged(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return httpx.Response(200, json=names[offset:offset + min(limit, SUBJECTS_PAGE)])

    with _registry(httpx.MockTransport(paged)) as registry:
        assert registry.subjects() == names


def test_a_registry_that_ignores_paging_is_read_once() -> None:
    names = [f"s{i:05d}" for i in range(SUBJECTS_PAGE + 10)]
    calls: list[httpx.Request] = []

    def everything(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=names)

    with _registry(httpx.MockTransport(everything)) as registry:
        assert registry.subjects(deleted=True) == names
    assert len(calls) == 2  # the second page brought nothing new: the loop ends
    assert all(c.url.params["deleted"] == "true" for c in calls)
