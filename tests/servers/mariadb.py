"""Real MariaDB servers for the tests (Debian package mariadb-server; test-servers.md §3).

Fixtures (session-scoped, one per xdist worker):

- ``mariadb_server``: TLS enabled (a trustme certificate), listening on 127.0.0.1 and, when the host has it,
  ::1. Users: ``tester`` (password auth, all rights on ``testdb``) and ``tlsonly`` (same, ``REQUIRE SSL``).
  ``testdb.metrics`` holds three rows (name, value).
- ``mariadb_plain_server``: the same without TLS (``--skip-ssl``), for "TLS required but not offered".

Setup statements run as root over the Unix socket with PyMySQL (installed with aiomysql).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pymysql
import pytest
import trustme

from .common import die_with_parent, free_port, make_daemon_dir, require_binary, stop, wait_until

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"
PACKAGE = "mariadb-server"
# As root, mariadbd refuses to start unless told to stay root; as anyone else it runs as that user.
_AS_ROOT = ["--user=root"] if os.geteuid() == 0 else []

SETUP = [
    "CREATE DATABASE testdb",
    "CREATE TABLE testdb.metrics (name VARCHAR(32) PRIMARY KEY, value INT, note VARCHAR(64))",
    "INSERT INTO testdb.metrics VALUES ('queue', 12, 'ok'), ('errors', 0, NULL), ('load', 3, 'fine')",
    "CREATE USER 'tester'@'%' IDENTIFIED BY '{password}'",
    "GRANT ALL ON testdb.* TO 'tester'@'%'",
    "CREATE USER 'tlsonly'@'%' IDENTIFIED BY '{password}' REQUIRE SSL",
    "GRANT ALL ON testdb.* TO 'tlsonly'@'%'",
]


@dataclass
class MariaDBServer:
    port: int
    socket_path: str
    password: str
    """Password of both ``tester`` and ``tlsonly``."""
    tls: bool
    ipv6: bool
    """True when the server also listens on ::1 (same port)."""
    pid: int = 0
    host: str = "127.0.0.1"
    user: str = "tester"
    database: str = "testdb"

    def execute(self, sql: str) -> list[tuple[object, ...]]:
        """Run one statement as root over the Unix socket; return its rows."""
        connection = pymysql.connect(unix_socket=self.socket_path, user="root", password="", autocommit=True)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            connection.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def _answers(socket_path: str) -> bool:
    try:
        pymysql.connect(unix_socket=socket_path, user="root", password="", connect_timeout=2).close()
    except pymysql.MySQLError:
        return False
    return True


def _start(tls: bool) -> Iterator[MariaDBServer]:
    require_binary(MARIADBD, PACKAGE)
    require_binary(INSTALL_DB, PACKAGE)
    daemon_dir = make_daemon_dir("mariadb-")
    try:
        data = os.path.join(daemon_dir, "data")
        install = subprocess.run(
            [
                INSTALL_DB,
                "--no-defaults",  # must come first, or /etc/mysql/*.cnf is read
                *_AS_ROOT,
                f"--datadir={data}",
                f"--tmpdir={daemon_dir}",  # not /tmp: concurrent bootstraps clash on temp table names
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            capture_output=True,
            text=True,
        )
        if install.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{install.stdout}\n{install.stderr}")
        tls_args: list[str] = ["--skip-ssl"]
        if tls:
            authority = trustme.CA()
            certificate = authority.issue_cert("localhost", "127.0.0.1", "::1")
            certificate.private_key_pem.write_to_path(os.path.join(daemon_dir, "key.pem"))
            certificate.cert_chain_pems[0].write_to_path(os.path.join(daemon_dir, "cert.pem"))
            tls_args = [f"--ssl-cert={daemon_dir}/cert.pem", f"--ssl-key={daemon_dir}/key.pem"]
        ipv6 = _ipv6_loopback()
        socket_path = os.path.join(daemon_dir, "mysqld.sock")
        proc, port = _launch(daemon_dir, data, socket_path, tls_args, ipv6)
        try:
            password = secrets.token_urlsafe(12)
            server = MariaDBServer(
                port=port, socket_path=socket_path, password=password, tls=tls, ipv6=ipv6, pid=proc.pid
            )
            for statement in SETUP:
                server.execute(statement.format(password=password))
            yield server
        finally:
            stop(proc)
    finally:
        shutil.rmtree(daemon_dir, ignore_errors=True)


def _launch(
    daemon_dir: str, data: str, socket_path: str, tls_args: list[str], ipv6: bool
) -> tuple[subprocess.Popen[bytes], int]:
    last_error = ""
    for _attempt in range(5):
        port = free_port()
        log_path = os.path.join(daemon_dir, f"error-{port}.log")
        proc = subprocess.Popen(
            [
                MARIADBD,
                "--no-defaults",
                *_AS_ROOT,
                f"--datadir={data}",
                f"--socket={socket_path}",
                f"--port={port}",
                "--bind-address=127.0.0.1,::1" if ipv6 else "--bind-address=127.0.0.1",
                f"--pid-file={daemon_dir}/mysqld.pid",
                f"--log-error={log_path}",
                f"--tmpdir={daemon_dir}",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=0",
                "--max-connections=500",
                *tls_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            cwd=daemon_dir,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        try:
            wait_until(lambda: _answers(socket_path), proc, timeout=60)
            return proc, port
        except RuntimeError:  # exited early: maybe the port was taken meanwhile; try another one
            with open(log_path, errors="replace") as f:
                last_error = f.read()
            if "Address already in use" not in last_error:
                break
        except BaseException:
            stop(proc)
            raise
    raise RuntimeError(f"mariadbd did not start; last log:\n{last_error}")


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    yield from _start(tls=True)


@pytest.fixture(scope="session")
def mariadb_plain_server() -> Iterator[MariaDBServer]:
    yield from _start(tls=False)
