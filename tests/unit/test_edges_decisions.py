"""Pure decisions of the edges and the sender: no database, no HTTP server."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from nmc.contract.ids import stable_id
from nmc.infra.bearer_tokens import TokenRules
from nmc.infra.settings import MissingSetting
from producers.billing import subscriptions as billing
from producers.conversation import message_status as statuses
from producers.conversation.message_status import TRANSITIONS, can_transition
from producers.edges import twiml
from producers.edges.auth import authenticate, issue_token
from producers.edges.settings import EdgeSettings
from producers.edges.stripe_input import parse_subscription_event
from producers.errors import Refused
from producers.scheduling import rules
from producers.sender.state import classify_error
from producers.telephony import rules as telephony

SECRET = "s" * 32


@pytest.mark.parametrize(("status", "reason"), [
    ("no-answer", "no-answer"), ("busy", "busy"), ("failed", "failed"),
    ("completed", None), ("ringing", None), ("in-progress", None), ("canceled", None),
])
def test_missed_call_reason(status, reason):
    assert telephony.missed_call_reason(status) == reason


@pytest.mark.parametrize(("twilio", "catalog"), [
    ("queued", None), ("accepted", None), ("sending", None), ("sent", "sent"),
    ("delivered", "delivered"), ("read", "delivered"), ("undelivered", "failed"),
    ("failed", "failed"),
])
def test_delivery_status_mapping(twilio, catalog):
    assert statuses.delivery_status(twilio) == catalog


def test_status_never_moves_backwards_or_out_of_terminal():
    assert statuses.advances("queued", "sent")
    assert statuses.advances("sent", "delivered")
    assert statuses.advances("sent", "failed")
    assert statuses.advances("unknown", "delivered")
    assert not statuses.advances("delivered", "sent")
    assert not statuses.advances("delivered", "failed")
    assert not statuses.advances("failed", "delivered")
    assert not statuses.advances("sent", "sent")


@given(st.lists(st.sampled_from(["sent", "delivered", "failed"]), max_size=12))
def test_any_callback_order_gives_a_monotone_history(updates):
    status, history = "queued", []
    for new in updates:
        if statuses.advances(status, new):
            status = new
            history.append(new)
    assert len(history) == len(set(history)) <= 2
    assert history in ([], ["sent"], ["delivered"], ["failed"], ["sent", "delivered"],
                       ["sent", "failed"])


def test_twiml_is_valid_xml_with_an_empty_response():
    for document in (twiml.empty_messaging_twiml(), twiml.empty_voice_twiml()):
        root = ElementTree.fromstring(document)
        assert root.tag == "Response" and list(root) == []


def test_secrets_in_sms_bodies_are_redacted():
    assert telephony.redact_secrets("key sk_live_ABCDEFGH1234 ok") == "key [redacted] ok"
    assert telephony.redact_secrets("plain text") == "plain text"


def test_plan_and_subscription_status():
    plans = {"p_b": "basic", "p_p": "pro"}
    assert billing.plan_for(["p_b"], plans) == "basic"
    assert billing.plan_for(["p_b", "p_p"], plans) == "pro"
    assert billing.plan_for(["other"], plans) is None
    assert billing.subscription_status("unpaid") == "past_due"
    assert billing.subscription_status("incomplete_expired") == "canceled"
    assert billing.subscription_status("weird") is None


def test_half_open_ranges():
    t = datetime(2026, 1, 1, tzinfo=UTC)
    h = timedelta(hours=1)
    assert rules.overlaps(t, t + 2 * h, t + h, t + 3 * h)
    assert not rules.overlaps(t, t + h, t + h, t + 2 * h)  # back to back


def test_check_hold_reports_every_problem():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    errors = rules.check_hold(now - timedelta(hours=2), now - timedelta(hours=3), 0, 60, now)
    assert {e.field for e in errors} == {"end", "ttl_seconds"}
    assert rules.check_hold(now.replace(tzinfo=None), now, 60, 60, now)[0].field == "start"
    assert rules.check_hold(now + timedelta(hours=1), now + timedelta(hours=2), 60, 60,
                                now) == []


def test_stable_ids_are_deterministic_and_distinct():
    assert stable_id("twilio-call", "CA1") == stable_id("twilio-call", "CA1")
    assert stable_id("twilio-call", "CA1") != stable_id("twilio-sms", "CA1")


def test_sender_state_machine_never_requeues():
    assert all("queued" not in targets for targets in TRANSITIONS.values())
    assert can_transition("queued", "sending")
    assert not can_transition("queued", "sent")  # no API call without a claim
    assert can_transition("sending", "unknown")
    assert not can_transition("unknown", "sending")  # unknown is never resent
    assert can_transition("unknown", "delivered")


def test_send_outcomes():
    assert classify_error(400, 21211, "bad to").error_code == "21211"
    assert classify_error(400, 21211, "bad to").status == "failed"
    assert classify_error(429, None, "").error_code == "429"
    assert classify_error(500, 20500, "oops").status == "unknown"
    assert classify_error(None, None, "timeout").status == "unknown"


def test_settings_require_names_what_is_missing():
    settings = EdgeSettings()
    with pytest.raises(MissingSetting, match="NMC_EDGE_JWT_SECRET"):
        settings.require("jwt_secret")
    with pytest.raises(ValidationError, match="32"):
        EdgeSettings(jwt_secret=SecretStr("short"))
    assert EdgeSettings(public_base_url="https://x.test/").public_base_url == "https://x.test"


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("NMC_EDGE_PRICE_PLANS", '{"price_1": "pro"}')
    monkeypatch.setenv("NMC_EDGE_STRIPE_TOLERANCE_S", "60")
    settings = EdgeSettings()
    assert settings.price_plans == {"price_1": "pro"}
    assert settings.stripe_tolerance_s == 60
    monkeypatch.setenv("NMC_EDGE_PRICE_PLANS", '{"price_1": "gold"}')
    with pytest.raises(ValidationError):
        EdgeSettings()


def test_jwt_authentication():
    tenant, user = uuid.uuid4(), uuid.uuid4()
    rules = TokenRules(SECRET)
    token = issue_token(rules, tenant, user, 60, int(time.time()))
    who = authenticate(f"Bearer {token}", rules)
    assert (who.tenant_id, who.user_id) == (tenant, user)
    for header in (None, "Bearer", f"Token {token}", f"Bearer {token}x"):
        with pytest.raises(Refused) as err:
            authenticate(header, rules)
        assert err.value.status == 401
    expired = issue_token(rules, tenant, None, -10, int(time.time()))
    with pytest.raises(Refused, match="expired"):
        authenticate(f"Bearer {expired}", rules)


def test_edge_tokens_are_checked_for_audience_issuer_and_leeway():
    """The edges use the read API's verifier: a configured audience or issuer is required and
    must match; the leeway forgives a just-expired token and nothing later."""
    tenant, now = uuid.uuid4(), int(time.time())
    strict = EdgeSettings(jwt_secret=SecretStr(SECRET), jwt_audience="nmc-edges",
                          jwt_issuer="https://idp.test", jwt_leeway_s=30).token_rules()
    good = issue_token(strict, tenant, None, 60, now)
    assert authenticate(f"Bearer {good}", strict).tenant_id == tenant
    bare = issue_token(TokenRules(SECRET), tenant, None, 60, now)
    with pytest.raises(Refused, match="aud"):
        authenticate(f"Bearer {bare}", strict)
    other_aud = TokenRules(SECRET, audience="someone-else", issuer="https://idp.test")
    with pytest.raises(Refused, match=r"[Aa]udience"):
        authenticate(f"Bearer {issue_token(other_aud, tenant, None, 60, now)}", strict)
    other_iss = TokenRules(SECRET, audience="nmc-edges", issuer="https://evil.test")
    with pytest.raises(Refused, match=r"[Ii]ssuer"):
        authenticate(f"Bearer {issue_token(other_iss, tenant, None, 60, now)}", strict)
    just_expired = issue_token(strict, tenant, None, -10, now)
    assert authenticate(f"Bearer {just_expired}", strict).tenant_id == tenant
    long_expired = issue_token(strict, tenant, None, -60, now)
    with pytest.raises(Refused, match="expired"):
        authenticate(f"Bearer {long_expired}", strict)


def test_stripe_parse_names_missing_fields():
    with pytest.raises(Refused) as err:
        parse_subscription_event({"id": "evt", "type": "customer.subscription.updated",
                                  "created": 1, "data": {"object": {"id": "sub"}}})
    fields = {e.field for e in err.value.errors}
    assert {"data.object.customer", "data.object.status", "data.object.items.data"} <= fields
