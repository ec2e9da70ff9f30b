"""Pure renderers of the files and command lines the local stack writes or runs.

No I/O here: every decision about configuration is a function of its inputs, so it is unit tested
without starting anything.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from nmc.infra.settings import PROJECT_ROOT
from nmc.stack.settings import StackSettings, StackVersions

KAFKA_LIBS_POM_ARTIFACT = "nmc-kafka-libs"
JMX_RULES_DIR = PROJECT_ROOT / "deploy" / "jmx"
"""The JMX exporter's rules: `kafka-broker.yml` (brokers), `kafka-connect.yml` (Connect)."""
JMX_AGENT_JAR = "jmx_prometheus_javaagent"


def render_kafka_pom(versions: StackVersions) -> str:
    """A throw-away pom whose runtime closure is Kafka's broker classpath.

    The `kafka_2.13` POM lacks logging (it ships only in the release tarball), so log4j2 and its
    slf4j2 binding are added; `dependencyManagement` pins slf4j-api to 2.x because the Kafka POM
    brings 1.7.36, which the slf4j2 binding cannot use.
    """
    deps = [
        ("org.apache.kafka", "kafka_2.13", versions.kafka_version),
        ("org.apache.logging.log4j", "log4j-api", versions.log4j_version),
        ("org.apache.logging.log4j", "log4j-core", versions.log4j_version),
        ("org.apache.logging.log4j", "log4j-slf4j2-impl", versions.log4j_version),
        ("org.slf4j", "slf4j-api", versions.slf4j_version),
    ]
    body = "\n".join(_dependency(g, a, v) for g, a, v in deps)
    managed = _dependency("org.slf4j", "slf4j-api", versions.slf4j_version)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>nmc.stack</groupId>
  <artifactId>{KAFKA_LIBS_POM_ARTIFACT}</artifactId>
  <version>{escape(versions.kafka_version)}</version>
  <packaging>pom</packaging>
  <dependencyManagement>
    <dependencies>
{managed}
    </dependencies>
  </dependencyManagement>
  <dependencies>
{body}
  </dependencies>
</project>
"""


def _dependency(group: str, artifact: str, version: str) -> str:
    return (
        "      <dependency>"
        f"<groupId>{escape(group)}</groupId>"
        f"<artifactId>{escape(artifact)}</artifactId>"
        f"<version>{escape(version)}</version>"
        "</dependency>"
    )


def stale_slf4j_jars(jar_names: list[str]) -> list[str]:
    """Jars to delete after the copy: any slf4j-api that is not 2.x would shadow the binding."""
    return [
        name
        for name in jar_names
        if name.startswith("slf4j-api-") and not name.startswith("slf4j-api-2.")
    ]


def render_log4j2(log_file: Path) -> str:
    """log4j2 config: everything at INFO to the rolling file, WARN and up also to the console.

    The console goes to `kafka.out` (the process' stdout), so it carries only what needs
    attention plus JVM crashes, without duplicating the INFO stream.
    """
    pattern = "[%d] %p %m (%c)%n"
    file = escape(str(log_file))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="STDOUT" target="SYSTEM_OUT">
      <PatternLayout pattern="{pattern}"/>
      <ThresholdFilter level="WARN" onMatch="ACCEPT" onMismatch="DENY"/>
    </Console>
    <RollingFile name="FILE" fileName="{file}" filePattern="{file}.%i">
      <PatternLayout pattern="{pattern}"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO">
      <AppenderRef ref="STDOUT"/>
      <AppenderRef ref="FILE"/>
    </Root>
    <Logger name="org.apache.kafka.clients" level="WARN"/>
    <Logger name="org.apache.kafka.common.utils.AppInfoParser" level="WARN"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
  </Loggers>
</Configuration>
"""


def render_server_properties(
    settings: StackSettings,
    log_dir: Path,
    node: int = 1,
    secure: SecureBroker | None = None,
) -> str:
    """One combined KRaft broker+controller on loopback (node `node` of `nmc_stack_brokers`).

    One node: a standalone quorum, every replication factor 1. Several: a static quorum of all
    nodes, internal topics with replication factor min(3, n) and `min.insync.replicas=2` from
    three nodes on. `secure`: the client and inter-broker listener is SASL_SSL (SCRAM-SHA-512)
    and there is no plaintext listener at all: the controller listener is SSL with client
    certificates required (mutual TLS with the stack's CA; SCRAM cannot serve it, its
    credentials live in the metadata the controllers serve).
    """
    host = "127.0.0.1"
    nodes = settings.nmc_stack_brokers
    port = settings.nmc_kafka_port + 2 * (node - 1)
    ctl = settings.nmc_kafka_controller_port + 2 * (node - 1)
    controllers = [settings.nmc_kafka_controller_port + 2 * i for i in range(nodes)]
    replication = min(3, nodes)
    min_isr = 2 if nodes >= 3 else 1
    listener = "SASL_SSL" if secure else "PLAINTEXT"
    props: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node,
    }
    if nodes == 1:
        props["controller.quorum.bootstrap.servers"] = f"{host}:{ctl}"
    else:
        props["controller.quorum.voters"] = ",".join(
            f"{i + 1}@{host}:{c}" for i, c in enumerate(controllers)
        )
    props |= {
        "listeners": f"{listener}://{host}:{port},CONTROLLER://{host}:{ctl}",
        "advertised.listeners": f"{listener}://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": listener,
        "listener.security.protocol.map":
            f"CONTROLLER:{'SSL' if secure else 'PLAINTEXT'},{listener}:{listener}",
        "log.dirs": str(log_dir),
        "num.partitions": settings.nmc_topic_partitions,
        "default.replication.factor": replication,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": replication,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replication,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": 0,
        # a client may ask for sessions down to 1 s (the default floor is 6 s): the tests that
        # kill a group member pick a short one, so its partitions move sooner (processes keep
        # their own defaults)
        "group.min.session.timeout.ms": 1000,
        "auto.create.topics.enable": "false",
        "log.retention.hours": 168,
    }
    if nodes > 1:
        props["unclean.leader.election.enable"] = "false"
    if secure is not None:
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required"
            f' username="{secure.admin_user}" password="{secure.admin_password}";'
        )
        props |= {
            "sasl.enabled.mechanisms": "SCRAM-SHA-512"
            + (",OAUTHBEARER" if secure.oauth_jwks_url else ""),
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(secure.keystore),
            "ssl.keystore.password": secure.keystore_password,
            "ssl.key.password": secure.keystore_password,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(secure.ca_cert),
            "ssl.endpoint.identification.algorithm": "https",
            "ssl.client.auth": "none",
            # controllers and the brokers' controller clients: certificates of the stack's CA
            "listener.name.controller.ssl.client.auth": "required",
            # authorization: ACLs per principal (nmc.acl.model), nothing without one; the
            # admin (inter-broker SCRAM) and the brokers' certificate (controller mTLS) are
            # the only super users
            "authorizer.class.name":
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": ";".join(secure.super_users),
        }
        if secure.oauth_jwks_url:
            # OIDC tokens (client credentials) verified against the provider's JWKS; the
            # JVM must also allow the URL (`oauth_system_properties`).
            oauth = "listener.name.sasl_ssl.oauthbearer."
            props |= {
                f"{oauth}sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer."
                "OAuthBearerLoginModule required;",
                f"{oauth}sasl.server.callback.handler.class": "org.apache.kafka.common.security."
                "oauthbearer.OAuthBearerValidatorCallbackHandler",
                "sasl.oauthbearer.jwks.endpoint.url": secure.oauth_jwks_url,
            }
    lines = ["# Written by nmc.stack on every start; edit nmc/stack/render.py instead."]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SecureBroker:
    """What a secured broker's properties need (paths and the inter-broker admin login)."""

    admin_user: str
    admin_password: str
    keystore: Path
    keystore_password: str
    ca_cert: Path
    oauth_jwks_url: str | None = None
    super_users: tuple[str, ...] = ("User:admin", "User:CN=localhost")


def new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in url-safe base64 without padding (22 chars).

    Never one that starts with `-` (1 in 64 would): kafka-storage's argument parser reads it
    as an option ("argument --cluster-id/-t: expected one argument"); Kafka's own
    `Uuid.randomUuid()` skips those for the same reason."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not cid.startswith("-"):
            return cid


def oauth_system_properties(jwks_url: str | None) -> dict[str, str]:
    """Kafka 4 refuses OAuth endpoints not listed in this JVM system property."""
    return {"org.apache.kafka.sasl.oauthbearer.allowed.urls": jwks_url} if jwks_url else {}


def kafka_jvm_command(
    java: str, libs: Path, main: str, args: list[str], *, heap: str, log4j2: Path,
    system_props: dict[str, str] | None = None, java_agent: str | None = None,
) -> list[str]:
    """`java ... <main> <args>` on the cached jars, with our log4j2 config (and `java_agent`,
    a `-javaagent:` flag from `jmx_agent_flag`)."""
    return [
        java,
        f"-Xmx{heap}",
        f"-Xms{heap}" if main == "kafka.Kafka" else "-Xms64m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j2}",
        *(f"-D{k}={v}" for k, v in (system_props or {}).items()),
        *([java_agent] if java_agent else []),
        "-cp",
        f"{libs}/*",
        main,
        *args,
    ]


def render_postgres_conf(settings: StackSettings, socket_dir: Path) -> str:
    """Settings appended (via include) to postgresql.conf: loopback, our socket, logical WAL."""
    conf = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(settings.nmc_postgres_port),
        "unix_socket_directories": f"'{socket_dir}'",
        "wal_level": "logical",
        "max_wal_senders": "10",
        "max_replication_slots": "10",
        "password_encryption": "'scram-sha-256'",
        "max_connections": "200",
    }
    lines = ["# Written by nmc.stack on every start; edit nmc/stack/render.py instead."]
    lines += [f"{key} = {value}" for key, value in conf.items()]
    return "\n".join(lines) + "\n"


PG_INCLUDE_LINE = "include_if_exists = 'nmc.conf'"


def with_pg_include(postgresql_conf: str) -> str:
    """postgresql.conf with our include line appended once (idempotent)."""
    if PG_INCLUDE_LINE in postgresql_conf.splitlines():
        return postgresql_conf
    sep = "" if postgresql_conf.endswith("\n") or not postgresql_conf else "\n"
    return f"{postgresql_conf}{sep}{PG_INCLUDE_LINE}\n"


def initdb_args(initdb: str, data: Path) -> list[str]:
    """initdb: scram for host connections, trust on the local socket, superuser `postgres`."""
    return [
        initdb,
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth-host=scram-sha-256",
        "--auth-local=trust",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    ]


REGISTRY_DB = "apicurio"
APP_ROLE = "nmc"
APP_PASSWORD = "nmc"  # noqa: S105 - the documented local-only credential of the stack
APP_DB = "nmc"


def registry_properties(settings: StackSettings, *, sql_storage: bool) -> dict[str, str]:
    """Apicurio 3.x system properties: loopback HTTP, and PostgreSQL storage when it is local.

    With an external database there is nothing of ours to store into, so Apicurio keeps its
    default in-memory (H2) storage and schema ids do not survive a restart.
    """
    props = {
        "quarkus.http.host": "127.0.0.1",
        "quarkus.http.port": str(settings.nmc_registry_port),
        "quarkus.management.host": "127.0.0.1",
        "quarkus.management.port": str(registry_management_port(settings)),
        "apicurio.storage.snapshot.location": str(Path(settings.nmc_home).resolve() / "run"),
    }
    if sql_storage:
        props |= {
            "apicurio.storage.kind": "sql",
            "apicurio.storage.sql.kind": "postgresql",
            "apicurio.datasource.url": (
                f"jdbc:postgresql://127.0.0.1:{settings.nmc_postgres_port}/{REGISTRY_DB}"
            ),
            "apicurio.datasource.username": APP_ROLE,
            "apicurio.datasource.password": APP_PASSWORD,
            "apicurio.datasource.jdbc.initial-size": "2",
            "apicurio.datasource.jdbc.min-size": "2",
            "apicurio.datasource.jdbc.max-size": "20",
        }
    return props


def registry_basic_auth_properties(users: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Quarkus/Apicurio properties: the registry's APIs behind HTTP basic auth, with
    Apicurio's role-based authorization on.

    `users`: login -> (password, role), the role one of Apicurio's `sr-admin` (everything,
    incl. the global compatibility), `sr-developer` (register, change a subject's
    compatibility), `sr-readonly` (look up only). Quarkus' properties-file realm gives the
    identity its roles and Apicurio reads them from it (`role-source=token`: the security
    identity's roles, whatever authenticated it). Written to a 0600 file passed by
    `quarkus.config.locations`, never on the command line (which `ps` shows).
    """
    props = {
        "quarkus.http.auth.basic": "true",
        "quarkus.security.users.embedded.enabled": "true",
        "quarkus.security.users.embedded.plain-text": "true",
        "quarkus.http.auth.permission.nmc-apis.paths": "/apis/*",
        "quarkus.http.auth.permission.nmc-apis.policy": "authenticated",
        "apicurio.auth.role-based-authorization": "true",
        "apicurio.auth.role-source": "token",
    }
    for user, (password, role) in sorted(users.items()):
        props[f"quarkus.security.users.embedded.users.{user}"] = password
        props[f"quarkus.security.users.embedded.roles.{user}"] = role
    return props


def registry_management_port(settings: StackSettings) -> int:
    """Quarkus' management interface (health/metrics) port; its default 9000 clashes too often."""
    return settings.nmc_registry_port + 1000


def registry_command(java: str, heap: str, props: dict[str, str]) -> list[str]:
    """`java -jar quarkus-run.jar` with the properties as -D flags (run from the app dir)."""
    return [
        java,
        f"-Xmx{heap}",
        "-Djava.awt.headless=true",
        *(f"-D{key}={value}" for key, value in props.items()),
        "-jar",
        "quarkus-run.jar",
    ]


def process_role_url(database_url: str, role: str) -> str:
    """`database_url` logging in as the local stack's process role `role` (password: the role's
    name, local only, like the owner's `nmc`)."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).set(username=role, password=role).render_as_string(
        hide_password=False)


def libpq_url(sqlalchemy_url: str) -> str:
    """The libpq form of a SQLAlchemy URL (`postgresql+psycopg://` -> `postgresql://`)."""
    scheme, sep, rest = sqlalchemy_url.partition("://")
    if not sep:
        return sqlalchemy_url
    return f"{scheme.split('+', 1)[0]}://{rest}"


def kafka_metrics_port(settings: StackSettings, node: int) -> int:
    """The JMX exporter port of local node `node` (0 = off): one port per node, consecutive."""
    base = settings.nmc_kafka_metrics_port
    return base + (node - 1) if base else 0


def jmx_agent_flag(jar: Path, port: int, rules: Path) -> str:
    """`-javaagent:` serving the MBeans that `rules` selects as Prometheus text on loopback
    `port` (`/metrics`); a JVM fails at start when the port is taken, never half-exports."""
    return f"-javaagent:{jar}=127.0.0.1:{port}:{rules}"


def jmx_agent_port(cmdline: list[str]) -> int | None:
    """The port of the JMX exporter in a running JVM's command line (None: no agent), so that
    `up` scrapes a node started earlier only if it really serves metrics."""
    for arg in cmdline:
        if arg.startswith("-javaagent:") and JMX_AGENT_JAR in arg and "=" in arg:
            options = arg.split("=", 1)[1].split(":")
            if len(options) >= 2 and options[-2].isdigit():
                return int(options[-2])
    return None
