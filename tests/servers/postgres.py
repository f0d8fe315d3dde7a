"""A real PostgreSQL 15 for the tests (Debian package postgresql-15).

Fixtures:

- ``postgres_server`` (session): one throwaway cluster per test session (per xdist worker), listening on
  127.0.0.1:<free port>, scram-sha-256 password auth, fsync off. Yields a :class:`PostgresServer`.
- ``postgres_url`` (function): a fresh, uniquely named, empty database on that cluster; yields its
  SQLAlchemy async URL ``postgresql+asyncpg://postgres:<pw>@127.0.0.1:<port>/<name>``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from .common import daemon_dir, free_port, launch, require_binary, stop, wait_until

PG_BIN = "/usr/lib/postgresql/15/bin"
PG_PACKAGE = "postgresql-15"

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_counter = itertools.count(1)


@dataclass
class PostgresServer:
    port: int
    password: str
    socket_dir: str
    host: str = "127.0.0.1"
    user: str = "postgres"

    def url(self, name: str = "postgres", driver: str = "asyncpg") -> str:
        """SQLAlchemy URL of database ``name`` (``driver=""`` gives a plain libpq/asyncpg DSN)."""
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{self.user}:{self.password}@{self.host}:{self.port}/{name}"

    def dsn(self, name: str = "postgres") -> str:
        """``postgresql://...`` for asyncpg.connect / psql."""
        return self.url(name, driver="")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL statement with psql (over the Unix socket) and return its unaligned output."""
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="10")
        result = subprocess.run(
            [
                f"{PG_BIN}/psql",
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.socket_dir,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-c",
                sql,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}) for {sql!r}: {result.stderr.strip()}")
        return result.stdout

    def create_database(self, name: str) -> str:
        """Create an empty database and return its ``postgresql+asyncpg://`` URL."""
        if not _DB_NAME.match(name):
            raise ValueError(f"bad database name {name!r} (want [a-z_][a-z0-9_]*, at most 63 chars)")
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def new_database(self, prefix: str = "t") -> str:
        """Create a uniquely named empty database; return its ``postgresql+asyncpg://`` URL."""
        return self.create_database(f"{prefix}_{next(_counter)}_{secrets.token_hex(4)}")


def _start(daemon_dir: str, as_pg: dict[str, Any], password: str) -> tuple[subprocess.Popen[bytes], int]:
    data = os.path.join(daemon_dir, "data")
    if not os.path.isdir(data):
        pwfile = os.path.join(daemon_dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(password + "\n")
        if as_pg:
            shutil.chown(pwfile, "postgres", "postgres")
        init = subprocess.run(
            [
                f"{PG_BIN}/initdb",
                "-D",
                data,
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-N",
            ],
            cwd=daemon_dir,
            capture_output=True,
            text=True,
            **as_pg,
        )
        os.unlink(pwfile)
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")

    last_error = ""
    for _attempt in range(5):
        port = free_port()
        log_path = os.path.join(daemon_dir, f"pg-{port}.log")
        proc = launch(
            [
                f"{PG_BIN}/postgres",
                "-D",
                data,
                "-p",
                str(port),
                "-k",
                daemon_dir,
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=32MB",
            ],
            log_path,
            # SIGQUIT = immediate shutdown if the test process dies without cleaning up.
            death_signal=signal.SIGQUIT,
            cwd=daemon_dir,
            **as_pg,
        )

        def ready(port: int = port) -> bool:
            return (
                subprocess.run(
                    [f"{PG_BIN}/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ).returncode
                == 0
            )

        try:
            wait_until(ready, proc, timeout=60)
            return proc, port
        except RuntimeError:  # exited early: maybe the port was taken meanwhile; try another one
            with open(log_path, errors="replace") as f:
                last_error = f.read()
            if "could not bind" not in last_error and "already in use" not in last_error:
                break
        except BaseException:
            stop(proc, signal.SIGINT)
            raise
    raise RuntimeError(f"postgres did not start; last log:\n{last_error}")


@contextlib.contextmanager
def throwaway_cluster(prefix: str) -> Iterator[tuple[PostgresServer, dict[str, Any]]]:
    """A new cluster in a fresh daemon directory named ``prefix...``, stopped (fast shutdown) and removed on
    exit. Yields the cluster and the Popen arguments that run a process as its owner.

    postgres refuses to run as root: as root it runs as the package's ``postgres`` user (Popen(user=) rather
    than runuser, which SIGKILLs its child 2 s after a SIGTERM). As non-root, it runs as ourselves.
    """
    for binary in ("postgres", "initdb", "psql"):
        require_binary(f"{PG_BIN}/{binary}", PG_PACKAGE)
    with daemon_dir(prefix) as directory:
        as_pg: dict[str, Any] = {}
        if os.geteuid() == 0:
            as_pg = {"user": "postgres", "group": "postgres", "extra_groups": []}
            shutil.chown(directory, "postgres", "postgres")
        password = secrets.token_urlsafe(16)
        proc, port = _start(directory, as_pg, password)
        try:
            yield PostgresServer(port=port, password=password, socket_dir=directory), as_pg
        finally:
            stop(proc, signal.SIGINT)  # fast shutdown (SIGTERM would wait for clients)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with throwaway_cluster("pg-") as (cluster, _):
        yield cluster


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh empty database per test: ``postgresql+asyncpg://postgres:<pw>@127.0.0.1:<port>/<db>``."""
    yield postgres_server.new_database()
