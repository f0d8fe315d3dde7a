"""A second real PostgreSQL 15 cluster with TLS, for the PGSQL check (started like ``postgres_server``).

Fixture ``postgres_tls_server`` (session): ``ssl = on`` with a trustme certificate for localhost, 127.0.0.1
and ::1 (CA in :attr:`PostgresTlsServer.ca_pem`). pg_hba.conf admits TCP logins only over TLS and only for
the role ``tester`` (password :attr:`PostgresTlsServer.password`); any other user gets
"no pg_hba.conf entry". The cluster itself is started by ``servers.postgres.throwaway_cluster``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import trustme

from .postgres import PostgresServer, throwaway_cluster

PG_HBA = """\
local   all   all                  scram-sha-256
hostssl all   tester  127.0.0.1/32 scram-sha-256
hostssl all   tester  ::1/128      scram-sha-256
"""


@dataclass
class PostgresTlsServer:
    cluster: PostgresServer
    password: str
    """Password of the role ``tester``."""
    ca_pem: str
    """Path of the CA certificate that signed the server's certificate."""
    user: str = "tester"
    host: str = "127.0.0.1"

    @property
    def port(self) -> int:
        return self.cluster.port

    def dsn(self, database: str = "postgres", password: str | None = None, **query: str) -> str:
        secret = self.password if password is None else password
        params = "&".join(f"{key}={value}" for key, value in query.items())
        suffix = f"?{params}" if params else ""
        return f"postgresql://{self.user}:{secret}@{self.host}:{self.port}/{database}{suffix}"


def _write(path: str, text: str, as_pg: dict[str, Any], mode: int = 0o644) -> None:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if as_pg:
        shutil.chown(path, "postgres", "postgres")


def _enable_tls(cluster: PostgresServer, data: str, daemon_dir: str, as_pg: dict[str, Any]) -> str:
    authority = trustme.CA()
    certificate = authority.issue_cert("localhost", "127.0.0.1", "::1")
    ca_pem = os.path.join(daemon_dir, "ca.pem")
    authority.cert_pem.write_to_path(ca_pem)
    cert_path = os.path.join(data, "server.crt")
    key_path = os.path.join(data, "server.key")
    _write(cert_path, certificate.cert_chain_pems[0].bytes().decode(), as_pg)
    _write(key_path, certificate.private_key_pem.bytes().decode(), as_pg, mode=0o600)
    _write(os.path.join(data, "pg_hba.conf"), PG_HBA, as_pg, mode=0o600)
    cluster.psql("ALTER SYSTEM SET ssl = on")
    cluster.psql(f"ALTER SYSTEM SET ssl_cert_file = '{cert_path}'")
    cluster.psql(f"ALTER SYSTEM SET ssl_key_file = '{key_path}'")
    cluster.psql("SELECT pg_reload_conf()")
    # The postmaster applies a reload (settings, pg_hba.conf, TLS) before it forks the next backend.
    deadline = time.monotonic() + 30
    while cluster.psql("SHOW ssl").strip() != "on":
        if time.monotonic() > deadline:
            raise RuntimeError("postgres did not enable ssl after pg_reload_conf()")
        time.sleep(0.05)
    return ca_pem


@pytest.fixture(scope="session")
def postgres_tls_server() -> Iterator[PostgresTlsServer]:
    with throwaway_cluster("pgtls-") as (cluster, as_pg):
        password = secrets.token_urlsafe(12)
        cluster.psql(f"CREATE ROLE tester LOGIN PASSWORD '{password}'")
        ca_pem = _enable_tls(cluster, os.path.join(cluster.socket_dir, "data"), cluster.socket_dir, as_pg)
        yield PostgresTlsServer(cluster=cluster, password=password, ca_pem=ca_pem)
