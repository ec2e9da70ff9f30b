"""Stack shapes (pure): multi-node and secured server.properties, secure material, exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.settings import PlatformSettings as Settings

from nmc.stack import render
from nmc.stack.layout import Layout
from nmc.stack.secure import SecureMaterial, client_env, openssl_commands
from nmc.stack.shape import shaped


def _props(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def _settings(**kw: object) -> Settings:
    return Settings(nmc_home=Path("/srv/nmc"), nmc_kafka_port=9592,  # type: ignore[arg-type]
                    nmc_kafka_controller_port=9593, **kw)


SECURE = render.SecureBroker(
    admin_user="admin", admin_password="pw", keystore=Path("/s/broker.p12"),
    keystore_password="ks", ca_cert=Path("/s/ca.crt"),
)


def test_three_nodes_form_a_static_quorum_with_rf3_and_min_isr_2() -> None:
    settings = _settings(nmc_stack_brokers=3)
    assert settings.kafka == "127.0.0.1:9592,127.0.0.1:9594,127.0.0.1:9596"
    props = _props(render.render_server_properties(settings, Path("/d"), node=2))
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:9593,2@127.0.0.1:9595,3@127.0.0.1:9597"
    )
    assert "controller.quorum.bootstrap.servers" not in props
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9594,CONTROLLER://127.0.0.1:9595"
    for key in ("default.replication.factor", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor"):
        assert props[key] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["unclean.leader.election.enable"] == "false"


def test_single_node_is_unchanged() -> None:
    props = _props(render.render_server_properties(_settings(), Path("/d")))
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9593"
    assert props["min.insync.replicas"] == "1"
    assert "sasl.enabled.mechanisms" not in props


def test_secure_node_has_no_plaintext_listener_at_all() -> None:
    props = _props(render.render_server_properties(_settings(), Path("/d"), secure=SECURE))
    assert props["listeners"] == "SASL_SSL://127.0.0.1:9592,CONTROLLER://127.0.0.1:9593"
    assert "PLAINTEXT://" not in props["listeners"]
    assert props["listener.security.protocol.map"] == "CONTROLLER:SSL,SASL_SSL:SASL_SSL"
    assert "PLAINTEXT" not in props["listener.security.protocol.map"]
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert 'username="admin" password="pw";' in (
        props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    )
    assert props["ssl.keystore.location"] == "/s/broker.p12"
    assert props["ssl.truststore.location"] == "/s/ca.crt"


def test_each_shape_has_its_own_kafka_folder() -> None:
    base = _settings()
    assert Layout.of(base).kafka_home == Path("/srv/nmc/kafka")
    assert Layout.of(shaped(base, secure=True, brokers=0)).kafka_home.name == "kafka-secure"
    three = shaped(base, secure=False, brokers=3)
    assert Layout.of(three).kafka_home.name == "kafka-3"
    assert three.nmc_topic_replication == 3
    assert shaped(base, secure=False, brokers=0) is base


def test_secure_material_flags_and_exports() -> None:
    material = SecureMaterial(Path("/s"), "a", "r", "k", {"relay": "rp", "ci": "cp"})
    # only the admin at format time (the brokers log in with it); the others via the Admin API
    assert material.scram_args() == ["--add-scram", "SCRAM-SHA-512=[name=admin,password=a]"]
    env = client_env(material, registry_auth=True)
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["KAFKA_SSL_CA_LOCATION"] == "/s/ca.crt"
    assert (env["KAFKA_SASL_USERNAME"], env["SCHEMA_REGISTRY_USERNAME"]) == ("admin", "admin")
    assert env["SCHEMA_REGISTRY_PASSWORD"] == "r"
    relay = client_env(material, registry_auth=True, principal="relay")
    assert (relay["KAFKA_SASL_USERNAME"], relay["KAFKA_SASL_PASSWORD"]) == ("relay", "rp")
    assert (relay["SCHEMA_REGISTRY_USERNAME"], relay["SCHEMA_REGISTRY_PASSWORD"]) == ("relay", "rp")
    conn = material.connection("relay", registry_auth=True)
    assert conn.kafka_sasl_password is not None
    assert conn.kafka_sasl_password.get_secret_value() == "rp"


def test_each_principal_has_its_registry_role() -> None:
    material = SecureMaterial(Path("/s"), "a", "r", "k", {"relay": "rp", "ci": "cp"})
    users = material.registry_users()
    assert users["admin"] == ("r", "sr-admin")
    assert users["ci"] == ("cp", "sr-developer")  # the gate's CI principal: may register
    assert users["relay"] == ("rp", "sr-readonly")  # readers look up, never register
    import pytest

    from nmc.stack.secure import UnknownPrincipal

    with pytest.raises(UnknownPrincipal, match="no principal 'nobody'"):
        client_env(material, registry_auth=False, principal="nobody")


def test_secured_nodes_authorize_with_acls_and_two_super_users() -> None:
    props = _props(render.render_server_properties(_settings(), Path("/d"), secure=SECURE))
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:CN=localhost"
    plain = _props(render.render_server_properties(_settings(), Path("/d")))
    assert "authorizer.class.name" not in plain


def test_registry_properties_turn_on_roles() -> None:
    props = render.registry_basic_auth_properties(
        {"admin": ("a", "sr-admin"), "ci": ("c", "sr-developer"), "relay": ("r", "sr-readonly")}
    )
    assert props["apicurio.auth.role-based-authorization"] == "true"
    assert props["apicurio.auth.role-source"] == "token"
    assert props["quarkus.security.users.embedded.roles.ci"] == "sr-developer"
    assert props["quarkus.security.users.embedded.users.relay"] == "r"


def test_broker_certificate_is_signed_by_the_ca_for_loopback() -> None:
    cmds = openssl_commands("openssl", Path("/s"), "ks")
    sign = next(c for c in cmds if c[1] == "x509")
    assert sign[sign.index("-CA") + 1] == "/s/ca.crt"
    assert sign[sign.index("-extfile") + 1] == "/s/san.cnf"
    export = next(c for c in cmds if c[1] == "pkcs12")
    assert export[export.index("-out") + 1] == "/s/broker.p12"


def test_a_running_kafka_of_another_shape_is_refused(tmp_path: Path) -> None:
    import os

    import pytest

    from nmc.stack import pidfile
    from nmc.stack.errors import StackError
    from nmc.stack.kafka_broker import _require_same_shape

    layout = Layout(tmp_path, "kafka-secure")
    layout.run.mkdir(parents=True)
    _require_same_shape(layout)  # nothing running: fine
    pidfile.write(layout.pidfile("kafka"), pidfile.record_for(os.getpid()))
    with pytest.raises(StackError, match="another shape"):  # unrecorded = the default shape
        _require_same_shape(layout)
    layout.kafka_shape_file.write_text("kafka\n")
    with pytest.raises(StackError, match=r"another shape \(kafka\) is running"):
        _require_same_shape(layout)
    layout.kafka_shape_file.write_text("kafka-secure\n")
    _require_same_shape(layout)


def test_secure_node_can_also_verify_oidc_tokens() -> None:
    from dataclasses import replace

    oauth = replace(SECURE, oauth_jwks_url="http://127.0.0.1:1/jwks")
    props = _props(render.render_server_properties(_settings(), Path("/d"), secure=oauth))
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512,OAUTHBEARER"
    assert props["sasl.oauthbearer.jwks.endpoint.url"] == "http://127.0.0.1:1/jwks"
    assert props["listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class"].endswith(
        "OAuthBearerValidatorCallbackHandler"
    )
    assert render.oauth_system_properties("http://127.0.0.1:1/jwks") == {
        "org.apache.kafka.sasl.oauthbearer.allowed.urls": "http://127.0.0.1:1/jwks"
    }
    assert render.oauth_system_properties(None) == {}


def test_exports_are_one_unwrapped_quoted_line_each() -> None:
    import json

    from nmc.stack.shape import render_exports

    long_path = "/root/" + "a-very-long-checkout-directory-name/" * 4 + ".nmc/secure/ca.crt"
    exports = {"KAFKA_SSL_CA_LOCATION": long_path, "KAFKA_SASL_PASSWORD": "p'w d"}
    shell = render_exports(exports, "shell").splitlines()
    assert shell == [f"export KAFKA_SSL_CA_LOCATION={long_path}",
                     "export KAFKA_SASL_PASSWORD='p'\"'\"'w d'"]
    assert render_exports(exports, "dotenv").splitlines()[0] == f"KAFKA_SSL_CA_LOCATION={long_path}"
    assert json.loads(render_exports(exports, "json")) == exports


def test_a_registry_whose_security_differs_is_not_reused() -> None:
    from nmc.stack.apicurio import security_mismatch

    assert security_mismatch(secured=True, anonymous_status=200) is not None
    assert security_mismatch(secured=True, anonymous_status=401) is None
    assert security_mismatch(secured=False, anonymous_status=401) is not None
    assert security_mismatch(secured=False, anonymous_status=200) is None


def test_the_running_shape_is_read_from_its_folder_name() -> None:
    from nmc.stack.layout import parse_kafka_dir

    assert parse_kafka_dir("kafka") == (False, 1)
    assert parse_kafka_dir("kafka-secure") == (True, 1)
    assert parse_kafka_dir("kafka-3") == (False, 3)
    assert parse_kafka_dir("kafka-secure-3") == (True, 3)


def test_stack_env_prints_the_addresses_of_a_plain_stack_for_eval_and_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plain stack needs no login, yet `nmc stack env` still names where it is, so another
    tool (a .env file, a consumer team's script) can be pointed at it."""
    import shlex

    from pydantic import SecretStr
    from support.settings import PlatformSettings as Settings
    from typer.testing import CliRunner

    from nmc.cli import app

    remote = Settings(kafka_bootstrap_servers="kafka.test:9092",
                      schema_registry_url="http://registry.test/apis/ccompat/v7",
                      database_url=SecretStr("postgresql+psycopg://u:p@db.test:5432/nmc"))
    monkeypatch.setattr("nmc.stack.cli.get_stack_settings", lambda: remote)
    shell = CliRunner().invoke(app, ["stack", "env"])
    assert shell.exit_code == 0, shell.output
    exported = dict(shlex.split(line)[1].split("=", 1) for line in shell.stdout.splitlines())
    assert exported == {"KAFKA_BOOTSTRAP_SERVERS": "kafka.test:9092",
                        "SCHEMA_REGISTRY_URL": "http://registry.test/apis/ccompat/v7",
                        "DATABASE_URL": "postgresql+psycopg://u:p@db.test:5432/nmc"}
    as_json = CliRunner().invoke(app, ["stack", "env", "--format", "json"])
    assert json.loads(as_json.stdout) == exported
