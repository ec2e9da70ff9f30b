"""Error bodies of the read API: every refusal names the field and the reason.

The shape ``{"errors": [{"field", "in", "reason"}]}`` matches the edge service's, so clients
parse one format across the platform.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class FieldProblem(BaseModel):
    """One reason a request was refused."""

    field: str
    location: str | None = None
    reason: str


class ErrorBody(BaseModel):
    """Body of every 4xx/5xx the API answers itself."""

    errors: list[FieldProblem]


class ApiError(Exception):
    """A refused request: `status` with the field and reason (e.g. 422 naming `cursor`)."""

    def __init__(self, status: int, field: str, reason: str, location: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.problem = FieldProblem(field=field, location=location, reason=reason)
        self.headers = headers
        super().__init__(f"{status}: {field}: {reason}")


def invalid(field: str, reason: str, location: str = "query") -> ApiError:
    """422 naming a request parameter (the validators' common case)."""
    return ApiError(422, field, reason, location)


def not_found(what: str, field: str) -> ApiError:
    """404 for a missing object *or one of another tenant*: the two are indistinguishable."""
    return ApiError(404, field, f"{what} not found", "path")


def _body(problems: list[FieldProblem]) -> dict[str, Any]:
    return ErrorBody(errors=problems).model_dump(exclude_none=True)


async def api_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(_body([exc.problem]), status_code=exc.status, headers=exc.headers)


async def unavailable_handler(_: Request, exc: Exception) -> JSONResponse:
    """No pooled connection in time (database down or saturated): 503, try again later."""
    problem = FieldProblem(field="database", reason="temporarily unavailable, retry later")
    return JSONResponse(_body([problem]), status_code=503, headers={"Retry-After": "1"})


async def validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422s, reshaped: `loc` ("query", "limit") becomes field `limit`."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        location = loc[0] if loc and loc[0] in ("query", "path", "header", "body") else None
        field = ".".join(loc[1:] if location else loc) or "request"
        problems.append(FieldProblem(field=field, location=location, reason=str(err["msg"])))
    return JSONResponse(_body(problems), status_code=422)


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such object for the caller's tenant."},
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, malformed, expired or forged token."},
    422: {"model": ErrorBody, "description": "Invalid parameter; `field` names it."},
}
