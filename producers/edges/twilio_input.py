"""Twilio requests into typed input: the form body, its X-Twilio-Signature, its bounds and the
parameters each callback needs (`producers.telephony` takes it from there)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import Request
from twilio.request_validator import RequestValidator

from nmc.contract.errors import FieldError
from nmc.contract.payload import check_e164
from producers.bounds import check_texts
from producers.errors import Refused
from producers.telephony.calls import CallStatusUpdate
from producers.telephony.messages import InboundSms, MessageStatusReport

FORM = "application/x-www-form-urlencoded"


def verify_twilio(
    auth_token: str, public_base_url: str, path: str, query: str,
    params: Mapping[str, str], signature: str | None,
) -> None:
    """403 unless X-Twilio-Signature matches the public URL Twilio called + the form params."""
    if not signature:
        raise Refused(403, "missing X-Twilio-Signature header", "X-Twilio-Signature")
    url = public_base_url + path + (f"?{query}" if query else "")
    if not RequestValidator(auth_token).validate(url, dict(params), signature):
        raise Refused(403, "signature does not match the request", "X-Twilio-Signature")


async def signed_form(request: Request, auth_token: str, public_base_url: str) -> dict[str, str]:
    """The form parameters of a Twilio request: 400 unless a well-formed form, 403 unless
    signed, 400 unless every value is storable (`bounds.check_texts`) — all before any
    transaction."""
    body = await request.body()
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
        raise Refused(400, f"expected {FORM}", "Content-Type")
    try:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "malformed form body", "body") from None
    verify_twilio(auth_token, public_base_url, request.url.path, request.url.query, params,
                  request.headers.get("x-twilio-signature"))
    # Signed is not the same as storable: bounds are checked before any transaction.
    errors = check_texts(params)
    if errors:
        raise Refused.fields(400, errors)
    return params


def require(params: Mapping[str, str], *names: str, phones: tuple[str, ...] = ()) -> None:
    """400 naming each missing parameter and each parameter in `phones` that is not E.164."""
    errors = [FieldError(n, "required parameter is missing") for n in names if not params.get(n)]
    for name in phones:
        value = params.get(name)
        if value:
            try:
                check_e164(value)
            except ValueError as exc:
                errors.append(FieldError(name, str(exc)))
    if errors:
        raise Refused.fields(400, errors)


def call_status(params: Mapping[str, str]) -> CallStatusUpdate:
    """A voice status callback, or 400 naming each missing parameter / malformed phone."""
    require(params, "CallSid", "CallStatus", "From", "To", phones=("From", "To"))
    return CallStatusUpdate(params["CallSid"], params["CallStatus"], params["From"],
                            params["To"])


def inbound_sms(params: Mapping[str, str]) -> InboundSms:
    """An inbound text, or 400 naming each missing parameter / malformed phone."""
    require(params, "MessageSid", "From", "To", phones=("From", "To"))
    return InboundSms(params["MessageSid"], params["From"], params["To"],
                      params.get("Body", ""))


def message_status(params: Mapping[str, str], mid: str | None) -> MessageStatusReport:
    """A message status callback (`mid`: our message id from the callback URL's query), or
    400 naming what is missing or malformed."""
    require(params, "MessageSid", "MessageStatus", "From", phones=("From",))
    ref: UUID | None = None
    if mid:
        try:
            ref = UUID(mid)
        except ValueError:
            raise Refused(400, "not a uuid", "mid") from None
    return MessageStatusReport(params["MessageSid"], params["MessageStatus"], params["From"],
                               params.get("ErrorCode") or None, ref)
