"""The secured local stack's material: a CA and broker certificate, SCRAM users, client settings.

Generated once per stack home with `openssl` (under `<nmc_home>/secure`, mode 0700) and reused
by later starts, so clients keep working across restarts. Only for the local stack: production
clusters bring their own CA and users.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr

from nmc.acl import model as acl_model
from nmc.infra.connection import ConnectionSettings as Connection
from nmc.stack.errors import StackError
from nmc.stack.procs import require_tool, run_checked

NAME = "kafka"
ADMIN_USER = "admin"
#: The gate's CI principal: the only login besides the admin that may register schemas or
#: change a subject's compatibility (registry role sr-developer); no Kafka ACLs.
CI_USER = "ci"
MECHANISM: Final = "SCRAM-SHA-512"
CERT_DAYS = "365"
#: The principal of the brokers' certificate (CN=localhost) on the mTLS controller listener:
#: brokers talk to the controllers with it, so it is a super user beside the admin.
CONTROLLER_PRINCIPAL = "User:CN=localhost"
#: Logins of a secured stack besides the admin: one SCRAM user per process role (their ACLs:
#: `nmc.acl.model.plan`), each also a read-only registry user, and the CI principal.
PRINCIPALS: Final = (*(p.name for p in acl_model.principals()), CI_USER)
REGISTRY_ROLES: Final = {ADMIN_USER: "sr-admin", CI_USER: "sr-developer"}  # others: sr-readonly


class UnknownPrincipal(StackError):
    """A principal the secured stack does not have."""


@dataclass(frozen=True)
class SecureMaterial:
    """Paths and generated secrets of one secured stack."""

    folder: Path
    admin_password: str
    registry_password: str
    keystore_password: str
    passwords: dict[str, str] = field(default_factory=dict)  # per principal (PRINCIPALS)

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def keystore(self) -> Path:
        return self.folder / "broker.p12"

    def scram_args(self) -> list[str]:
        """`kafka-storage format` flags creating the admin at format time (the brokers log in
        with it); the other users are upserted through the Admin API after every start."""
        return ["--add-scram", f"{MECHANISM}=[name={ADMIN_USER},password={self.admin_password}]"]

    def password(self, principal: str) -> str:
        if principal == ADMIN_USER:
            return self.admin_password
        if principal not in self.passwords:
            raise UnknownPrincipal(
                NAME, f"no principal {principal!r}; one of {', '.join(self.principal_names())}"
            )
        return self.passwords[principal]

    def principal_names(self) -> list[str]:
        return [ADMIN_USER, *PRINCIPALS]

    def registry_login(self, principal: str) -> tuple[str, str]:
        """The registry's basic-auth login of `principal` (the admin's is its own secret)."""
        if principal == ADMIN_USER:
            return ADMIN_USER, self.registry_password
        return principal, self.password(principal)

    def registry_users(self) -> dict[str, tuple[str, str]]:
        """Every registry login: user -> (password, Apicurio role)."""
        return {
            user: (self.registry_login(user)[1], REGISTRY_ROLES.get(user, "sr-readonly"))
            for user in (ADMIN_USER, *self.passwords)
        }

    def connection(self, principal: str = ADMIN_USER, registry_auth: bool = False) -> Connection:
        """Client settings of `principal` for this stack (Kafka SCRAM, and its registry login)."""
        login = self.registry_login(principal) if registry_auth else None
        return Connection(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism=MECHANISM,
            kafka_sasl_username=principal,
            kafka_sasl_password=SecretStr(self.password(principal)),
            kafka_ssl_ca_location=self.ca_cert,
            schema_registry_username=login[0] if login else None,
            schema_registry_password=SecretStr(login[1]) if login else None,
        )

    def admin_connection(self) -> Connection:
        return self.connection(ADMIN_USER)


def client_env(material: SecureMaterial, registry_auth: bool,
               principal: str = ADMIN_USER) -> dict[str, str]:
    """What a process exports to use the secured stack as `principal` (printed by
    `nmc stack env --secure --principal <name>`; `nmc stack up --secure`: the admin's)."""
    env = {
        "NMC_STACK_SECURE": "true",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": MECHANISM,
        "KAFKA_SASL_USERNAME": principal,
        "KAFKA_SASL_PASSWORD": material.password(principal),
        "KAFKA_SSL_CA_LOCATION": str(material.ca_cert),
    }
    if registry_auth:
        user, password = material.registry_login(principal)
        env |= {"SCHEMA_REGISTRY_USERNAME": user, "SCHEMA_REGISTRY_PASSWORD": password}
    return env


def openssl_commands(openssl: str, folder: Path, keystore_password: str) -> list[list[str]]:
    """CA, broker key + certificate for 127.0.0.1/localhost signed by it, PKCS12 keystore."""
    f = folder
    return [
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(f / "ca.key"),
         "-out", str(f / "ca.crt"), "-days", CERT_DAYS, "-subj", "/CN=nmc-local-ca"],
        [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(f / "broker.key"),
         "-out", str(f / "broker.csr"), "-subj", "/CN=localhost"],
        [openssl, "x509", "-req", "-in", str(f / "broker.csr"), "-CA", str(f / "ca.crt"),
         "-CAkey", str(f / "ca.key"), "-CAcreateserial", "-out", str(f / "broker.crt"),
         "-days", CERT_DAYS, "-extfile", str(f / "san.cnf")],
        [openssl, "pkcs12", "-export", "-in", str(f / "broker.crt"), "-inkey",
         str(f / "broker.key"), "-certfile", str(f / "ca.crt"), "-name", "broker",
         "-out", str(f / "broker.p12"), "-passout", f"pass:{keystore_password}"],
    ]


def ensure_material(home: Path) -> SecureMaterial:
    """Load this home's CA, certificate and users, generating them on first use (and a
    password for each principal a home made by an older version lacks)."""
    folder = home / "secure"
    secrets_file = folder / "secrets.json"
    if secrets_file.exists() and (folder / "broker.p12").exists():
        stored: dict[str, Any] = json.loads(secrets_file.read_text())
        passwords = dict(stored.get("passwords", {}))
        missing = [p for p in PRINCIPALS if p not in passwords]
        if missing:
            passwords |= {p: secrets.token_urlsafe(18) for p in missing}
            stored["passwords"] = passwords
            _write_secrets(secrets_file, stored)
        return _material(folder, stored)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    data: dict[str, Any] = {
        key: secrets.token_urlsafe(18)
        for key in ("admin_password", "registry_password", "keystore_password")
    }
    data["passwords"] = {p: secrets.token_urlsafe(18) for p in PRINCIPALS}
    material = _material(folder, data)
    openssl = require_tool(NAME, "openssl", "apt-get install openssl")
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for cmd in openssl_commands(openssl, folder, material.keystore_password):
        run_checked(NAME, cmd)
    if not material.keystore.exists():
        raise StackError(NAME, f"openssl did not write {material.keystore}")
    _write_secrets(secrets_file, data)
    return material


def _material(folder: Path, data: dict[str, Any]) -> SecureMaterial:
    known = {f.name for f in fields(SecureMaterial)} - {"folder"}
    return SecureMaterial(folder=folder, **{k: v for k, v in data.items() if k in known})


def _write_secrets(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data))
    path.chmod(0o600)

