"""How every client connects: TLS, SASL and registry credentials, in one typed object.

`ConnectionSettings` is read from the environment once (as part of
`nmc.infra.settings.Settings`) and turned into each client's configuration here, by pure
functions: librdkafka (relay, reactor, admin, bench, demo, tests), the Schema Registry client,
and the TLS context of Faust/aiokafka (`nmc.infra.faust_broker`). No process builds its own
security settings, so none can be left on plaintext by accident. Secrets are `SecretStr`
(masked in repr, logs and tracebacks); the dictionaries built from them are handed straight
to the client libraries and never logged.

PostgreSQL is not configured here: TLS for it goes in `DATABASE_URL` itself
(`?sslmode=verify-full&sslrootcert=/path/ca.crt`), which libpq reads as it is.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal, Self
from urllib.parse import quote

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]

TLS_PROTOCOLS: frozenset[str] = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS: frozenset[str] = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


class ConnectionSettingsError(ValueError):
    """The connection settings contradict each other (raised at start-up, before any I/O)."""


class ConnectionSettings(BaseSettings):
    """Security of the Kafka and Schema Registry connections (environment variables upper-cased).

    Defaults are the local stack's: PLAINTEXT Kafka, an unauthenticated registry.
    """

    model_config = SettingsConfigDict(env_prefix="", frozen=True, extra="ignore")

    # --- Kafka ------------------------------------------------------------------------------
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="librdkafka `security.protocol`."
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        default=None, description="SASL mechanism; required with SASL_PLAINTEXT / SASL_SSL."
    )
    kafka_sasl_username: str | None = Field(
        default=None, description="SASL user (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)."
    )
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    kafka_ssl_ca_location: Path | None = Field(
        default=None, description="PEM CA bundle that signed the brokers' certificates "
        "(unset: the system's trust store)."
    )
    kafka_ssl_certificate_location: Path | None = Field(
        default=None, description="PEM client certificate (mTLS)."
    )
    kafka_ssl_key_location: Path | None = Field(
        default=None, description="PEM private key of the client certificate (mTLS)."
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted client key."
    )
    kafka_ssl_endpoint_identification: bool = Field(
        default=True, description="Check the broker's host name against its certificate."
    )
    kafka_oauth_token_endpoint_url: str | None = Field(
        default=None, description="OIDC token endpoint (OAUTHBEARER, client credentials grant)."
    )
    kafka_oauth_client_id: str | None = Field(default=None, description="OIDC client id.")
    kafka_oauth_client_secret: SecretStr | None = Field(
        default=None, description="OIDC client secret."
    )
    kafka_oauth_scope: str | None = Field(default=None, description="OIDC scope(s), optional.")

    # --- Schema Registry --------------------------------------------------------------------
    schema_registry_username: str | None = Field(
        default=None, description="Registry basic-auth user (Confluent Cloud: the API key)."
    )
    schema_registry_password: SecretStr | None = Field(
        default=None, description="Registry basic-auth password (Confluent Cloud: the secret)."
    )
    schema_registry_bearer_token: SecretStr | None = Field(
        default=None, description="A static bearer token for the registry (instead of basic)."
    )
    schema_registry_logical_cluster: str = Field(
        default="", description="Confluent Cloud `target-sr-cluster` sent with a bearer token."
    )
    schema_registry_ca_location: Path | None = Field(
        default=None, description="PEM CA bundle of an https registry (unset: system store)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for problem in problems(self):
            raise ConnectionSettingsError(problem)
        return self

    @property
    def uses_tls(self) -> bool:
        return self.kafka_security_protocol in TLS_PROTOCOLS

    @property
    def uses_sasl(self) -> bool:
        return self.kafka_security_protocol in SASL_PROTOCOLS


def problems(conn: ConnectionSettings) -> list[str]:
    """Every contradiction in `conn`, as a sentence naming the variables to set."""
    found: list[str] = []
    mech = conn.kafka_sasl_mechanism
    if conn.uses_sasl and mech is None:
        found.append(
            f"KAFKA_SECURITY_PROTOCOL={conn.kafka_security_protocol} needs KAFKA_SASL_MECHANISM"
        )
    if not conn.uses_sasl and mech is not None:
        found.append(
            f"KAFKA_SASL_MECHANISM={mech} needs KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT"
        )
    if conn.uses_sasl and mech in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512") and (
        not conn.kafka_sasl_username or conn.kafka_sasl_password is None
    ):
        found.append(f"SASL {mech} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
    if conn.uses_sasl and mech == "OAUTHBEARER" and (
        not conn.kafka_oauth_token_endpoint_url
        or not conn.kafka_oauth_client_id
        or conn.kafka_oauth_client_secret is None
    ):
        found.append(
            "SASL OAUTHBEARER needs KAFKA_OAUTH_TOKEN_ENDPOINT_URL, KAFKA_OAUTH_CLIENT_ID and"
            " KAFKA_OAUTH_CLIENT_SECRET"
        )
    if (conn.kafka_ssl_certificate_location is None) != (conn.kafka_ssl_key_location is None):
        found.append("mTLS needs both KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION")
    tls_files = (conn.kafka_ssl_ca_location, conn.kafka_ssl_certificate_location)
    if not conn.uses_tls and any(p is not None for p in tls_files):
        found.append(
            "KAFKA_SSL_* files are set but KAFKA_SECURITY_PROTOCOL is"
            f" {conn.kafka_security_protocol}: use SSL or SASL_SSL"
        )
    if (conn.schema_registry_username is None) != (conn.schema_registry_password is None):
        found.append("registry basic auth needs SCHEMA_REGISTRY_USERNAME and _PASSWORD")
    if conn.schema_registry_username is not None and conn.schema_registry_bearer_token is not None:
        found.append("set SCHEMA_REGISTRY_USERNAME/_PASSWORD or _BEARER_TOKEN, not both")
    return found


def librdkafka_security(conn: ConnectionSettings) -> dict[str, str]:
    """The librdkafka properties for `conn` (empty for PLAINTEXT: today's behaviour)."""
    config: dict[str, str] = {}
    if conn.kafka_security_protocol == "PLAINTEXT":
        return config
    config["security.protocol"] = conn.kafka_security_protocol.lower()
    if conn.uses_tls:
        if conn.kafka_ssl_ca_location is not None:
            config["ssl.ca.location"] = str(conn.kafka_ssl_ca_location)
        if conn.kafka_ssl_certificate_location is not None:
            config["ssl.certificate.location"] = str(conn.kafka_ssl_certificate_location)
        if conn.kafka_ssl_key_location is not None:
            config["ssl.key.location"] = str(conn.kafka_ssl_key_location)
        if conn.kafka_ssl_key_password is not None:
            config["ssl.key.password"] = conn.kafka_ssl_key_password.get_secret_value()
        config["ssl.endpoint.identification.algorithm"] = (
            "https" if conn.kafka_ssl_endpoint_identification else "none"
        )
    mech = conn.kafka_sasl_mechanism
    if conn.uses_sasl and mech is not None:
        config["sasl.mechanism"] = mech
        if mech == "OAUTHBEARER":
            config["sasl.oauthbearer.method"] = "oidc"
            config["sasl.oauthbearer.token.endpoint.url"] = str(
                conn.kafka_oauth_token_endpoint_url
            )
            config["sasl.oauthbearer.client.id"] = str(conn.kafka_oauth_client_id)
            if conn.kafka_oauth_client_secret is not None:
                config["sasl.oauthbearer.client.secret"] = (
                    conn.kafka_oauth_client_secret.get_secret_value()
                )
            if conn.kafka_oauth_scope:
                config["sasl.oauthbearer.scope"] = conn.kafka_oauth_scope
        else:
            config["sasl.username"] = str(conn.kafka_sasl_username)
            if conn.kafka_sasl_password is not None:
                config["sasl.password"] = conn.kafka_sasl_password.get_secret_value()
    return config


def registry_auth(conn: ConnectionSettings) -> dict[str, str]:
    """The confluent-kafka `SchemaRegistryClient` properties for credentials and TLS."""
    config: dict[str, str] = {}
    if conn.schema_registry_username is not None and conn.schema_registry_password is not None:
        config["basic.auth.user.info"] = (
            f"{conn.schema_registry_username}:"
            f"{conn.schema_registry_password.get_secret_value()}"
        )
    if conn.schema_registry_bearer_token is not None:
        config["bearer.auth.credentials.source"] = "STATIC_TOKEN"
        config["bearer.auth.token"] = conn.schema_registry_bearer_token.get_secret_value()
        config["bearer.auth.logical.cluster"] = conn.schema_registry_logical_cluster
    if conn.schema_registry_ca_location is not None:
        config["ssl.ca.location"] = str(conn.schema_registry_ca_location)
    return config


def registry_http_auth(conn: ConnectionSettings) -> tuple[str, str] | None:
    """Basic-auth pair for plain HTTP calls to the registry (stack health, compatibility)."""
    if conn.schema_registry_username is None or conn.schema_registry_password is None:
        return None
    return conn.schema_registry_username, conn.schema_registry_password.get_secret_value()


def url_with_userinfo(url: str, conn: ConnectionSettings) -> str:
    """`url` carrying the registry's basic-auth login as percent-encoded userinfo.

    For HTTP clients that take only a URL (the schema gate's `httpx` client applies userinfo as
    basic auth). The result holds a secret: pass it on, never print it.
    """
    login = registry_http_auth(conn)
    if login is None:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    user, password = (quote(part, safe="") for part in login)
    return f"{scheme}://{user}:{password}@{rest}"


def ssl_context(conn: ConnectionSettings) -> ssl.SSLContext | None:
    """The client TLS context for Python Kafka clients (aiokafka/Faust); None without TLS."""
    if not conn.uses_tls:
        return None
    ca = str(conn.kafka_ssl_ca_location) if conn.kafka_ssl_ca_location is not None else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.check_hostname = conn.kafka_ssl_endpoint_identification
    if conn.kafka_ssl_certificate_location is not None and conn.kafka_ssl_key_location:
        password = (
            conn.kafka_ssl_key_password.get_secret_value()
            if conn.kafka_ssl_key_password is not None
            else None
        )
        context.load_cert_chain(
            str(conn.kafka_ssl_certificate_location), str(conn.kafka_ssl_key_location), password
        )
    return context
