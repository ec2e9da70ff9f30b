"""The secured local stack's material: a CA and broker certificate, SCRAM users, client settings.

Generated once per stack home with `openssl` (under `<nmc_home>/secure`, mode 0700) and reused
by later starts, so clients keep working across restarts. Only for the local stack: production
clusters bring their own CA and users.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import SecretStr

from nmc.infra.connection import ConnectionSettings as Connection
from nmc.stack.errors import StackError
from nmc.stack.procs import require_tool, run_checked

NAME = "kafka"
ADMIN_USER = "admin"
CLIENT_USER = "nmc"
REGISTRY_USER = "nmc"
MECHANISM: Final = "SCRAM-SHA-512"
CERT_DAYS = "365"


@dataclass(frozen=True)
class SecureMaterial:
    """Paths and generated secrets of one secured stack."""

    folder: Path
    admin_password: str
    client_password: str
    registry_password: str
    keystore_password: str

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def keystore(self) -> Path:
        return self.folder / "broker.p12"

    def scram_args(self) -> list[str]:
        """`kafka-storage format` flags creating the SCRAM users at format time."""
        return [
            arg
            for user, password in (
                (ADMIN_USER, self.admin_password),
                (CLIENT_USER, self.client_password),
            )
            for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={password}]")
        ]

    def connection(
        self, user: str = CLIENT_USER, password: str | None = None, registry_auth: bool = False
    ) -> Connection:
        """Client settings for this stack (the admin's for the stack's own probes)."""
        return Connection(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism=MECHANISM,
            kafka_sasl_username=user,
            kafka_sasl_password=SecretStr(password or self.client_password),
            kafka_ssl_ca_location=self.ca_cert,
            schema_registry_username=REGISTRY_USER if registry_auth else None,
            schema_registry_password=SecretStr(self.registry_password) if registry_auth else None,
        )

    def admin_connection(self) -> Connection:
        return self.connection(ADMIN_USER, self.admin_password)


def client_env(material: SecureMaterial, registry_auth: bool) -> dict[str, str]:
    """What a developer exports to use the secured stack (printed by `nmc stack up --secure`)."""
    env = {
        "NMC_STACK_SECURE": "true",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": MECHANISM,
        "KAFKA_SASL_USERNAME": CLIENT_USER,
        "KAFKA_SASL_PASSWORD": material.client_password,
        "KAFKA_SSL_CA_LOCATION": str(material.ca_cert),
    }
    if registry_auth:
        env |= {
            "SCHEMA_REGISTRY_USERNAME": REGISTRY_USER,
            "SCHEMA_REGISTRY_PASSWORD": material.registry_password,
        }
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
    """Load this home's CA, certificate and users, generating them on first use."""
    folder = home / "secure"
    secrets_file = folder / "secrets.json"
    if secrets_file.exists() and (folder / "broker.p12").exists():
        data = json.loads(secrets_file.read_text())
        return SecureMaterial(folder=folder, **data)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    data = {
        key: secrets.token_urlsafe(18)
        for key in ("admin_password", "client_password", "registry_password",
                    "keystore_password")
    }
    material = SecureMaterial(folder=folder, **data)
    openssl = require_tool(NAME, "openssl", "apt-get install openssl")
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for cmd in openssl_commands(openssl, folder, material.keystore_password):
        run_checked(NAME, cmd)
    if not material.keystore.exists():
        raise StackError(NAME, f"openssl did not write {material.keystore}")
    secrets_file.write_text(json.dumps(data))
    secrets_file.chmod(0o600)
    return material
