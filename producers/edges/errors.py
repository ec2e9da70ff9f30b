"""The edge's refusals as HTTP answers: ``{"errors": [{"field", "reason"}]}`` with the status
the domain chose (`Refused`), 422 for an event the contract refuses, 400 for a body or
parameter FastAPI could not validate."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from nmc.contract.errors import FieldError, InvalidEvent
from producers.errors import Refused


async def refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def invalid_event(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidEvent)
    return JSONResponse(Refused.fields(422, exc.errors).body(), status_code=422)


async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(".".join(str(p) for p in e["loc"] if p != "body") or "body",
                         e["msg"]) for e in exc.errors()]
    return JSONResponse(Refused.fields(400, errors).body(), status_code=400)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(InvalidEvent, invalid_event)
    app.add_exception_handler(RequestValidationError, invalid_request)
