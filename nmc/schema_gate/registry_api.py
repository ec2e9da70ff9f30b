"""The few Confluent Schema Registry calls the gate needs, over plain HTTP.

Plain httpx rather than confluent-kafka's client because the gate needs answers that client hides
(`verbose=true` messages, the `defaultToGlobal` level, 404 vs other errors), and because every
call here must work the same against Apicurio's ccompat API, Confluent and Karapace.
Verified against Apicurio 3.3.3: `POST /compatibility/subjects/{s}/versions` (all versions) works
but returns no `messages`; a registered subject without its own rule reports `NONE` from
`GET /config/{s}` yet enforces the global rule, so the effective level is read with
`?defaultToGlobal=true`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
NOT_FOUND_CODES = {40401, 40402, 40403, 40408}



SUBJECTS_PAGE = 1000  # Apicurio's ccompat default and cap per request

class RegistryUnavailable(RuntimeError):
    """The registry could not be reached or answered something unusable (exit code 2)."""


@dataclass(frozen=True)
class RegisteredVersion:
    version: int
    schema_id: int
    raw: dict[str, Any]


@dataclass(frozen=True)
class CompatAnswer:
    is_compatible: bool
    messages: tuple[str, ...]


class Registry:
    """A Confluent-API registry at `url` (e.g. http://127.0.0.1:8081/apis/ccompat/v7)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=timeout, headers={"Accept": "application/json"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None,
              params: dict[str, str] | None = None) -> httpx.Response:
        try:
            return self.http.request(
                method, self.url + path, params=params,
                content=None if body is None else json.dumps(body),
                headers={"Content-Type": CONTENT_TYPE} if body is not None else None,
            )
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"schema registry {self.url} unreachable: {exc}") from exc

    @staticmethod
    def _not_found(resp: httpx.Response) -> bool:
        if resp.status_code != 404:
            return False
        try:
            code = resp.json().get("error_code")
        except ValueError:
            return True
        return code is None or code in NOT_FOUND_CODES

    def _json(self, resp: httpx.Response) -> Any:
        if resp.status_code >= 400:
            raise RegistryUnavailable(
                f"schema registry {resp.request.method} {resp.request.url} answered"
                f" {resp.status_code}: {resp.text[:300]}"
            )
        try:
            return resp.json()
        except ValueError as exc:
            raise RegistryUnavailable(
                f"schema registry answered non-JSON: {resp.text[:200]}"
            ) from exc

    @staticmethod
    def _s(subject: str) -> str:
        return quote(subject, safe="")

    # -- reads ---------------------------------------------------------------------------------
    def ping(self) -> None:
        """Fail fast (exit 2) when the registry is down, before doing any per-subject work."""
        self._json(self._call("GET", "/subjects"))

    def subjects(self, deleted: bool = False) -> list[str]:
        """Every subject (with `deleted`: soft-deleted ones too), page by page: Apicurio's
        compatibility API answers at most 1,000 per request (a busy registry's cleanup missed
        its own subjects); a registry that ignores `offset`/`limit` answers everything at once,
        which the loop notices (a page with nothing new ends it)."""
        names: set[str] = set()
        offset = 0
        while True:
            params = {"offset": str(offset), "limit": str(SUBJECTS_PAGE)}
            if deleted:
                params["deleted"] = "true"
            page = [str(s) for s in self._json(self._call("GET", "/subjects", params=params))]
            fresh = set(page) - names
            names |= fresh
            if len(page) < SUBJECTS_PAGE or not fresh:
                return sorted(names)
            offset += SUBJECTS_PAGE

    def soft_delete(self, subject: str) -> list[int]:
        """Soft-delete a subject: lookups by subject stop answering, ids keep resolving (so
        records already written stay readable); registering the schema again restores it.
        Returns the versions deleted (empty when the subject did not exist)."""
        resp = self._call("DELETE", f"/subjects/{self._s(subject)}")
        if self._not_found(resp):
            return []
        return sorted(int(v) for v in self._json(resp))

    def versions(self, subject: str) -> list[int]:
        """Registered versions of `subject`, empty if the subject does not exist."""
        resp = self._call("GET", f"/subjects/{self._s(subject)}/versions")
        if self._not_found(resp):
            return []
        return sorted(int(v) for v in self._json(resp))

    def get_version(self, subject: str, version: int) -> RegisteredVersion:
        data = self._json(self._call("GET", f"/subjects/{self._s(subject)}/versions/{version}"))
        return RegisteredVersion(int(data["version"]), int(data["id"]), json.loads(data["schema"]))

    def all_versions(self, subject: str) -> list[RegisteredVersion]:
        return [self.get_version(subject, v) for v in self.versions(subject)]

    def level(self, subject: str | None = None) -> str:
        """Effective compatibility level of `subject` (its own, else the global one)."""
        if subject is not None:
            resp = self._call("GET", f"/config/{self._s(subject)}",
                              params={"defaultToGlobal": "true"})
            if not self._not_found(resp):
                return str(self._json(resp).get("compatibilityLevel", "NONE"))
        return str(self._json(self._call("GET", "/config")).get("compatibilityLevel", "NONE"))

    def own_level(self, subject: str) -> str | None:
        """The level set on the subject itself (Apicurio: `NONE` when unset), None if absent."""
        resp = self._call("GET", f"/config/{self._s(subject)}",
                          params={"defaultToGlobal": "false"})
        if self._not_found(resp):
            return None
        return str(self._json(resp).get("compatibilityLevel", "NONE"))

    def check_compatibility(self, subject: str, raw: Any) -> CompatAnswer:
        """Ask the registry whether `raw` may join `subject` under the subject's level.

        Uses the all-versions endpoint; registries that lack it get one call per version.
        """
        body = {"schema": json.dumps(raw, separators=(",", ":")), "schemaType": "AVRO"}
        path = f"/compatibility/subjects/{self._s(subject)}/versions"
        resp = self._call("POST", path, body, params={"verbose": "true"})
        if resp.status_code in (404, 405):  # no all-versions variant: ask version by version
            ok, messages = True, []
            for v in self.versions(subject):
                data = self._json(self._call("POST", f"{path}/{v}", body,
                                             params={"verbose": "true"}))
                if not data.get("is_compatible", False):
                    ok = False
                    messages += [f"v{v}: {m}" for m in data.get("messages") or []]
            return CompatAnswer(ok, tuple(messages))
        data = self._json(resp)
        return CompatAnswer(bool(data.get("is_compatible")), tuple(data.get("messages") or []))

    def lookup(self, subject: str, raw: Any) -> int | None:
        """The version under which exactly this schema is registered, or None."""
        body = {"schema": json.dumps(raw, separators=(",", ":")), "schemaType": "AVRO"}
        resp = self._call("POST", f"/subjects/{self._s(subject)}", body)
        if self._not_found(resp):
            return None
        return int(self._json(resp)["version"])

    # -- writes --------------------------------------------------------------------------------
    def set_level(self, subject: str, level: str) -> None:
        self._json(self._call("PUT", f"/config/{self._s(subject)}", {"compatibility": level}))

    def register(self, subject: str, raw: Any) -> int:
        body = {"schema": json.dumps(raw, separators=(",", ":")), "schemaType": "AVRO"}
        return int(self._json(self._call("POST", f"/subjects/{self._s(subject)}/versions",
                                          body))["id"])

    def delete_subject(self, subject: str) -> None:
        """Soft then hard delete (tests clean up their own subjects with it); a subject
        soft-deleted already (error 40404) goes straight to the hard delete."""
        for params in ({}, {"permanent": "true"}):
            resp = self._call("DELETE", f"/subjects/{self._s(subject)}", params=params)
            if resp.status_code >= 400 and not self._not_found(resp) \
                    and not self._soft_deleted(resp):
                self._json(resp)

    @staticmethod
    def _soft_deleted(resp: httpx.Response) -> bool:
        try:
            return resp.status_code == 404 and resp.json().get("error_code") == 40404
        except ValueError:
            return False
