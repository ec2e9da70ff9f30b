"""Read API pure parts: cursors, parameter validators, settings, tokens. Starts nothing."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import jwt
import pytest
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field, SecretStr, ValidationError

from nmc_streams.api import cursor as cursors
from nmc_streams.api.auth import TokenVerifier, authenticate, issue_token
from nmc_streams.api.conditional import (
    MAX_TAGS,
    json_response,
    matches,
    not_modified,
    requested_tags,
)
from nmc_streams.api.errors import ApiError
from nmc_streams.api.models import DailyReport
from nmc_streams.api.params import Params, openapi_parameters, parse
from nmc_streams.api.queries import DAILY_COUNTS
from nmc_streams.api.settings import ApiSettings
from nmc_streams.api.validators import date_range, page_limit, time_range

SECRET = SecretStr("unit-test-secret-0123456789abcdef-0123")
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)

aware = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                               timezone(timedelta(hours=-8))]),
)


@given(at=aware, cid=st.uuids())
def test_cursor_round_trips(at: datetime, cid: uuid.UUID) -> None:
    key = cursors.ConversationKey(at, cid)
    token = cursors.encode(key)
    assert token.isascii() and "=" not in token  # URL-safe, no padding to escape
    back = cursors.decode(token)
    assert back == key and back.last_activity_at.utcoffset() == at.utcoffset()


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


ID = "0b8f6f7e-3c44-4f0e-9a53-5f1d2a7c9e11"  # fixed: test ids must be the same in every worker


@pytest.mark.parametrize("bad", [
    "", "!!!", "not-a-cursor", "x" * 300, _b64([1, 2]), _b64({"v": 2, "t": T0.isoformat(),
                                                              "id": ID}),
    _b64({"v": 1, "t": "yesterday", "id": ID}),
    _b64({"v": 1, "t": T0.isoformat(), "id": "42"}),
    _b64({"v": 1, "t": "2026-03-02T12:00:00", "id": ID}),  # naive
    _b64({"v": 1, "id": ID}),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_malformed_cursors_are_refused(bad: str) -> None:
    with pytest.raises(cursors.InvalidCursor):
        cursors.decode(bad)


@given(st.text(max_size=80))
def test_decode_never_raises_anything_but_invalid_cursor(text: str) -> None:
    with contextlib.suppress(cursors.InvalidCursor):
        cursors.decode(text)


def _field(exc: pytest.ExceptionInfo[ApiError]) -> tuple[int, str]:
    return exc.value.status, exc.value.problem.field


def test_time_range() -> None:
    assert time_range(T0, T0 + timedelta(days=31), 31) == (T0, T0 + timedelta(days=31))
    for end in (T0, T0 - timedelta(seconds=1), T0 + timedelta(days=31, seconds=1)):
        with pytest.raises(ApiError) as exc:
            time_range(T0, end, 31)
        assert _field(exc) == (422, "to")


def test_date_range_is_inclusive() -> None:
    d = date(2026, 1, 1)
    assert date_range(d, d, 1) == (d, d)
    assert date_range(d, d + timedelta(days=365), 366)
    for end, limit in ((d - timedelta(days=1), 10), (d + timedelta(days=366), 366)):
        with pytest.raises(ApiError) as exc:
            date_range(d, end, limit)
        assert _field(exc) == (422, "to")


def test_page_limit() -> None:
    assert page_limit(None, 50, 200) == 50
    assert page_limit(1, 50, 200) == 1 and page_limit(200, 50, 200) == 200
    for bad in (0, -1, 201):
        with pytest.raises(ApiError) as exc:
            page_limit(bad, 50, 200)
        assert _field(exc) == (422, "limit")


def test_settings_require_a_secret_outside_dev_mode() -> None:
    with pytest.raises(ValidationError, match="NMC_API_JWT_SECRET is required"):
        ApiSettings()
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        ApiSettings(jwt_secret=SecretStr("short"), dev_mode=True)
    with pytest.raises(ValidationError, match="PAGE_SIZE_DEFAULT"):
        ApiSettings(jwt_secret=SECRET, page_size_default=300, page_size_max=200)


def test_dev_mode_mints_a_random_secret_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMC_API_DEV_MODE", "true")
    one, two = ApiSettings(), ApiSettings()
    assert len(one.secret) >= 32 and one.secret != two.secret
    token = issue_token(one, uuid.uuid4())
    with pytest.raises(ApiError):
        authenticate(f"Bearer {token}", two)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NMC_API_JWT_SECRET", SECRET.get_secret_value())
    monkeypatch.setenv("NMC_API_PORT", "8123")
    settings = ApiSettings()
    assert settings.port == 8123 and settings.page_size_default == 50
    assert SECRET.get_secret_value() not in repr(settings)
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]  # frozen


def test_issue_and_authenticate_round_trip() -> None:
    settings = ApiSettings(jwt_secret=SECRET, jwt_audience="read", jwt_issuer="idp")
    tenant = uuid.uuid4()
    who = authenticate(f"Bearer {issue_token(settings, tenant, 60, 'u1')}", settings)
    assert who.tenant_id == tenant and who.subject == "u1"
    claims = jwt.decode(issue_token(settings, tenant), options={"verify_signature": False})
    assert claims["aud"] == "read" and claims["iss"] == "idp" and claims["exp"] > claims["iat"]


@pytest.mark.parametrize(("header", "reason"), [
    (None, "missing bearer token"),
    ("Token abc", "expected 'Bearer <token>'"),
    ("Bearer", "expected 'Bearer <token>'"),
    ("Bearer a.b.c", "invalid token"),
])
def test_authentication_failures_are_401_with_a_challenge(header: str | None,
                                                          reason: str) -> None:
    with pytest.raises(ApiError) as exc:
        authenticate(header, ApiSettings(jwt_secret=SECRET))
    assert exc.value.status == 401 and reason in exc.value.problem.reason
    assert exc.value.headers and exc.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_foreign_tokens_are_refused() -> None:
    settings = ApiSettings(jwt_secret=SECRET, jwt_leeway_s=0)
    old = issue_token(settings, uuid.uuid4(), ttl_s=60, now=1_000_000)
    with pytest.raises(ApiError, match="token expired"):
        authenticate(f"Bearer {old}", settings)
    other = ApiSettings(jwt_secret=SecretStr("x" * 40))
    with pytest.raises(ApiError, match="invalid token"):
        authenticate(f"Bearer {issue_token(other, uuid.uuid4())}", settings)


# --- token cache ----------------------------------------------------------------------------

class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_token_verifier_remembers_a_valid_token_until_its_exp_and_leeway(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ApiSettings(jwt_secret=SECRET, jwt_leeway_s=5)
    clock = _Clock(time.time())
    verifier = TokenVerifier(settings, clock)
    tenant = uuid.uuid4()
    header = f"Bearer {issue_token(settings, tenant, ttl_s=60, now=clock.now)}"
    assert verifier.authenticate(header).tenant_id == tenant
    decoded: list[str] = []
    real = jwt.decode

    def counting(*args: object, **kwargs: object) -> dict[str, object]:
        decoded.append("x")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting)
    for _ in range(3):
        assert verifier.authenticate(header).tenant_id == tenant
    assert decoded == [], "a remembered token is not verified again"
    clock.now += 60 + 5 - 1  # still inside exp + leeway: remembered
    verifier.authenticate(header)
    assert decoded == []
    clock.now += 2  # past exp + leeway: forgotten, so verified again (PyJWT has the last word)
    verifier.authenticate(header)
    assert decoded == ["x"]


def test_token_verifier_never_remembers_a_refused_token_and_is_bounded() -> None:
    settings = ApiSettings(jwt_secret=SECRET, jwt_cache_size=2)
    verifier = TokenVerifier(settings)
    good = issue_token(settings, uuid.uuid4())
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert verifier.authenticate(f"Bearer {good}")
    for _ in range(2):  # the same forged token twice: refused both times
        with pytest.raises(ApiError, match="invalid token"):
            verifier.authenticate(f"Bearer {forged}")
    for _ in range(3):
        verifier.authenticate(f"Bearer {issue_token(settings, uuid.uuid4())}")
    assert len(verifier._known) == 2


def test_token_cache_can_be_disabled() -> None:
    settings = ApiSettings(jwt_secret=SECRET, jwt_cache_size=0)
    verifier = TokenVerifier(settings)
    verifier.authenticate(f"Bearer {issue_token(settings, uuid.uuid4())}")
    assert verifier._known == {}


# --- parameter models -----------------------------------------------------------------------

class _Window(Params):
    path = frozenset({"resource_id"})
    resource_id: uuid.UUID
    start: date = Field(alias="from")
    limit: int | None = None


def _request(query: str, path: dict[str, str]) -> Request:
    return Request({"type": "http", "query_string": query.encode(), "path_params": path,
                    "headers": []})


def test_params_validate_query_and_path_in_one_model() -> None:
    got = parse(_Window, _request("from=2026-01-02&limit=3&other=1&resource_id=x",
                                  {"resource_id": str(uuid.UUID(int=7))}))
    assert got == _Window.model_validate(
        {"resource_id": uuid.UUID(int=7), "from": date(2026, 1, 2), "limit": 3})


def test_params_errors_carry_fastapis_loc() -> None:
    with pytest.raises(RequestValidationError) as exc:
        parse(_Window, _request("limit=ten", {"resource_id": "nope"}))
    locs = sorted(tuple(e["loc"]) for e in exc.value.errors())
    assert locs == [("path", "resource_id"), ("query", "from"), ("query", "limit")]


def test_params_are_documented_from_the_same_model() -> None:
    doc = {p["name"]: p for p in openapi_parameters(_Window)["parameters"]}
    assert doc["resource_id"]["in"] == "path" and doc["resource_id"]["required"]
    assert doc["from"]["in"] == "query" and doc["from"]["schema"]["format"] == "date"
    assert not doc["limit"]["required"]


def test_daily_counts_are_the_report_models_counts() -> None:
    assert [*DAILY_COUNTS] == [f for f in DailyReport.model_fields
                               if f not in ("day", "conversion_rate")]


@pytest.mark.parametrize(("header", "tags"), [
    (None, None), ("", None), (" , ", None),
    ('"abc"', ["abc"]), ('W/"abc"', ["abc"]), ('"a", W/"b" ,"c"', ["a", "b", "c"]),
    ("*", ["*"]), ("abc", ["abc"]),
])
def test_if_none_match_is_read_as_a_list_of_opaque_tags(header: str | None,
                                                        tags: list[str] | None) -> None:
    assert requested_tags(header) == tags


def test_if_none_match_is_bounded() -> None:
    tags = requested_tags(", ".join(f'"{n}"' for n in range(1000)))
    assert tags is not None and len(tags) == MAX_TAGS


def test_a_304_has_the_tag_and_nothing_else() -> None:
    r = not_modified("abc")
    assert (r.status_code, r.body, r.headers["etag"]) == (304, b"", '"abc"')
    assert "content-type" not in r.headers
    ok = json_response("abc", '{"a":1}')
    assert (ok.status_code, ok.body, ok.headers["etag"]) == (200, b'{"a":1}', '"abc"')
    assert ok.headers["content-type"] == "application/json"


def test_if_none_match_matches_the_current_tag_or_a_star() -> None:
    assert matches("abc", ["x", "abc"]) and matches("abc", ["*"])
    assert not matches("abc", ["x"]) and not matches("abc", None)
