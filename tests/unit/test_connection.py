"""Connection settings -> client configurations (pure: no client is created, nothing starts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from support.settings import PlatformSettings as Settings

from nmc.infra.connection import (
    ConnectionSettings,
    librdkafka_security,
    problems,
    registry_auth,
    ssl_context,
)
from nmc.infra.faust_broker import faust_broker, faust_credentials
from nmc.infra.kafka_clients import LIBRDKAFKA_LOG, admin_config, consumer_config, producer_config

SECURITY_ENV = [
    "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CA_LOCATION", "KAFKA_SSL_CERTIFICATE_LOCATION",
    "KAFKA_SSL_KEY_LOCATION", "KAFKA_SSL_KEY_PASSWORD", "KAFKA_OAUTH_TOKEN_ENDPOINT_URL",
    "KAFKA_OAUTH_CLIENT_ID", "KAFKA_OAUTH_CLIENT_SECRET", "KAFKA_OAUTH_SCOPE",
    "SCHEMA_REGISTRY_USERNAME", "SCHEMA_REGISTRY_PASSWORD", "SCHEMA_REGISTRY_BEARER_TOKEN",
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECURITY_ENV:
        monkeypatch.delenv(name, raising=False)


def conn(**values: Any) -> ConnectionSettings:
    return ConnectionSettings(**values)


def scram(**extra: Any) -> ConnectionSettings:
    values: dict[str, Any] = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "relay",
        "kafka_sasl_password": SecretStr("s3cret"),
        "kafka_ssl_ca_location": Path("/etc/ca.pem"),
    }
    return conn(**(values | extra))


def test_default_is_plaintext_and_adds_nothing() -> None:
    settings = Settings(kafka_bootstrap_servers="k:9092")
    assert librdkafka_security(settings.connection) == {}
    assert admin_config(settings) == {"bootstrap.servers": "k:9092", "logger": LIBRDKAFKA_LOG}
    assert "security.protocol" not in producer_config(settings)
    assert registry_auth(settings.connection) == {}
    assert faust_credentials(settings) is None


def test_sasl_ssl_scram_reaches_every_librdkafka_client() -> None:
    settings = Settings(kafka_bootstrap_servers="k:9093").model_copy(
        update={"connection": scram()}
    )
    expected = {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "relay",
        "sasl.password": "s3cret",
        "ssl.ca.location": "/etc/ca.pem",
        "ssl.endpoint.identification.algorithm": "https",
    }
    for config in (
        producer_config(settings),
        consumer_config(settings, "g"),
        admin_config(settings),
    ):
        assert {k: config[k] for k in expected} == expected


def test_oauthbearer_uses_librdkafka_oidc() -> None:
    config = librdkafka_security(
        conn(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="OAUTHBEARER",
            kafka_oauth_token_endpoint_url="https://idp/token",
            kafka_oauth_client_id="nmc-relay",
            kafka_oauth_client_secret=SecretStr("xyz"),
            kafka_oauth_scope="kafka",
        )
    )
    assert config == {
        "security.protocol": "sasl_ssl",
        "ssl.endpoint.identification.algorithm": "https",
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.method": "oidc",
        "sasl.oauthbearer.token.endpoint.url": "https://idp/token",
        "sasl.oauthbearer.client.id": "nmc-relay",
        "sasl.oauthbearer.client.secret": "xyz",
        "sasl.oauthbearer.scope": "kafka",
    }


def test_mtls_files() -> None:
    config = librdkafka_security(
        conn(
            kafka_security_protocol="SSL",
            kafka_ssl_certificate_location=Path("/c.pem"),
            kafka_ssl_key_location=Path("/k.pem"),
            kafka_ssl_key_password=SecretStr("kp"),
            kafka_ssl_endpoint_identification=False,
        )
    )
    assert config == {
        "security.protocol": "ssl",
        "ssl.certificate.location": "/c.pem",
        "ssl.key.location": "/k.pem",
        "ssl.key.password": "kp",
        "ssl.endpoint.identification.algorithm": "none",
    }


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_MECHANISM"),
        ({"kafka_sasl_mechanism": "PLAIN"}, "needs KAFKA_SECURITY_PROTOCOL"),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"},
            "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "OAUTHBEARER"},
            "KAFKA_OAUTH_TOKEN_ENDPOINT_URL",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_key_location": Path("/k")},
            "both KAFKA_SSL_CERTIFICATE_LOCATION",
        ),
        ({"kafka_ssl_ca_location": Path("/ca")}, "use SSL or SASL_SSL"),
        ({"schema_registry_username": "u"}, "SCHEMA_REGISTRY_USERNAME and _PASSWORD"),
    ],
)
def test_contradictions_are_refused_with_the_variable_to_set(
    values: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ValidationError, match=needle):
        conn(**values)


def test_problems_of_a_consistent_setting_is_empty() -> None:
    assert problems(scram()) == []


def test_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "u")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "hunter2")
    settings = Settings()
    assert settings.connection.kafka_sasl_mechanism == "SCRAM-SHA-256"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_registry_basic_and_bearer() -> None:
    basic = registry_auth(
        conn(schema_registry_username="key", schema_registry_password=SecretStr("sec"),
             schema_registry_ca_location=Path("/ca.pem"))
    )
    assert basic == {
        "basic.auth.user.info": "key:sec",
        "ssl.ca.location": "/ca.pem",
    }
    bearer = registry_auth(conn(schema_registry_bearer_token=SecretStr("tok")))
    assert bearer["bearer.auth.credentials.source"] == "STATIC_TOKEN"
    assert bearer["bearer.auth.token"] == "tok"


def test_faust_gets_the_same_security() -> None:
    settings = Settings(kafka_bootstrap_servers="a:1,b:2").model_copy(
        update={"connection": scram(kafka_ssl_ca_location=None)}
    )
    assert faust_broker(settings) == ["kafka://a:1", "kafka://b:2"]
    creds = faust_credentials(settings)
    assert creds is not None
    assert creds.protocol.value == "SASL_SSL"  # type: ignore[attr-defined]
    assert creds.mechanism.value == "SCRAM-SHA-512"  # type: ignore[attr-defined]
    assert ssl_context(settings.connection) is not None


def test_the_registry_client_accepts_what_we_build() -> None:
    """confluent-kafka refuses unknown keys at construction (no request is made)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    for values in (
        {"schema_registry_username": "k", "schema_registry_password": SecretStr("s")},
        {"schema_registry_bearer_token": SecretStr("t")},
    ):
        SchemaRegistryClient({"url": "https://sr.example", **registry_auth(conn(**values))})


def test_url_with_userinfo_percent_encodes_the_login() -> None:
    from nmc.infra.connection import url_with_userinfo

    plain = conn()
    assert url_with_userinfo("http://h/x", plain) == "http://h/x"
    login = conn(schema_registry_username="a@b", schema_registry_password=SecretStr("p:/w"))
    assert url_with_userinfo("http://h/x", login) == "http://a%40b:p%3A%2Fw@h/x"


@pytest.mark.parametrize(
    "values",
    [
        {"kafka_sasl_mechanism": "SCRAM-SHA-256", "kafka_sasl_username": "u",
         "kafka_sasl_password": SecretStr("p")},
        {"kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "u",
         "kafka_sasl_password": SecretStr("p")},
        {"kafka_sasl_mechanism": "OAUTHBEARER", "kafka_oauth_token_endpoint_url": "https://i/t",
         "kafka_oauth_client_id": "c", "kafka_oauth_client_secret": SecretStr("s"),
         "kafka_oauth_scope": "kafka"},
    ],
)
def test_librdkafka_accepts_every_property_we_build(values: dict[str, Any]) -> None:
    """librdkafka validates names and values when a client is constructed (no connection
    is needed for that), so a misspelt property fails here, not in production."""
    import certifi
    from confluent_kafka import Producer

    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1").model_copy(update={
        "connection": conn(kafka_security_protocol="SASL_SSL",
                           kafka_ssl_ca_location=Path(certifi.where()), **values),
    })
    Producer(producer_config(settings)).flush(0)
