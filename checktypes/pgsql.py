"""PGSQL: connect to a PostgreSQL URI, run `query`, test the rows against fields.

check-types.md §4 PGSQL (AGENT code):

- the target is a ``postgres://`` or ``postgresql://`` URI (libpq style, parsed by asyncpg: user, password,
  host, port, database, ``sslmode`` and other parameters); anything else is "Invalid PostgreSQL URI";
- connection errors read ``Connection Error: <err>``, with the DNS and refused rewrites of MONGODB;
- a URI without credentials is a liveness check: a server that rejects it (pg_hba.conf, password required)
  has answered, which passes as ``Connected``;
- the query (default ``SELECT NOW()``) runs; a failing one reads ``Query Error: <server message>``.

TLS: with ``verify`` the connection must use TLS and the certificate must be valid for the host (system CA
store, like libpq's ``sslmode=verify-full``). Without it the URI's ``sslmode`` applies, by default
``prefer``: TLS when the server offers it, certificate not checked.
"""

from __future__ import annotations

import contextlib
import socket
from urllib.parse import parse_qs, urlsplit

import asyncpg

from checktypes._common import FieldsMap
from checktypes._db import DEFAULT_QUERY, connection_reason, query_result
from checktypes._tls import client_context
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, StrIsh

NAME = "PGSQL"

SCHEMES = ("postgres", "postgresql")
INVALID_URI = "Invalid PostgreSQL URI"


class Params(CheckParams):
    query: StrIsh | None = None
    """Absent = ``SELECT NOW()`` at run time."""
    fields: FieldsMap | None = None
    """Columns to test in the result rows (``match`` allowed)."""
    verify: BoolIsh = False
    """Require a valid TLS certificate (false = do not verify)."""

    @classmethod
    def check_target(cls, target: str) -> str:
        _split(target)
        return target


def _split(target: str) -> tuple[str, bool]:
    """The host of a PostgreSQL URI and whether it has credentials; ``ValueError`` when it is no such URI."""
    try:
        parts = urlsplit(target)
        host = parts.hostname or ""
        query = parse_qs(parts.query)
    except ValueError:
        raise ValueError(INVALID_URI) from None
    if parts.scheme.lower() not in SCHEMES or not (host or "host" in query):
        raise ValueError(INVALID_URI)
    has_credentials = bool(parts.username or parts.password or "user" in query or "password" in query)
    return host or query["host"][0], has_credentials


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing PostgreSQL URI")
    try:
        host, has_credentials = _split(ctx.target)
    except ValueError:
        raise ConfigError(INVALID_URI) from None
    try:
        connection = await asyncpg.connect(
            ctx.target,
            ssl=client_context(verify=True) if params.verify else None,
            timeout=ctx.timeout,
            statement_cache_size=0,  # one query per connection: nothing to reuse
            server_settings={"application_name": ctx.user_agent[:63]},
        )
    except asyncpg.ClientConfigurationError as exc:
        raise ConfigError(f"{INVALID_URI}: {exc}") from None
    except asyncpg.InterfaceError as exc:  # e.g. the server hung up mid-handshake
        return CheckResult.down("Error", f"Connection Error: {exc}")
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        # Rejected by pg_hba.conf (28000) or for a wrong or missing password (28P01).
        if not has_credentials:
            return CheckResult.up("Success", "Connected")
        return CheckResult.down("Error", f"Connection Error: {exc}")
    except asyncpg.PostgresError as exc:
        return CheckResult.down("Error", f"Connection Error: {exc}")
    except socket.gaierror:
        return CheckResult.down("Error", f"DNS error: unable to resolve host name {host}")
    except TimeoutError:
        raise  # asyncpg's own connect timeout: the runner reports it
    except OSError as exc:  # before ValueError: certificate errors are both
        return CheckResult.down("Error", f"Connection Error: {connection_reason(exc)}")
    except ValueError:  # asyncpg's DSN parser: a bad port, an unbalanced [IPv6] literal
        raise ConfigError(INVALID_URI) from None
    try:
        try:
            records = await connection.fetch(params.query or DEFAULT_QUERY)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            result = CheckResult.down("Error", f"Query Error: {exc}")
        else:
            result = query_result([dict(record.items()) for record in records], params.fields)
        with contextlib.suppress(OSError, asyncpg.InterfaceError):  # the connection may be gone already
            await connection.close(timeout=ctx.timeout)
        return result
    finally:
        connection.terminate()  # no-op after close(); closes the socket when cancelled by the runner
