"""MYSQL: MySQL protocol connect; with `database`, run `query` and test the rows against fields.

check-types.md §4 MYSQL (AGENT code):

- no ``database``: a connect that authenticates passes (``Responded``/``Connected``); "Access denied" passes
  too (``Authentication error but responded``): the server answered, which is all that was asked;
- with ``database``: access denied fails (``Authentication Error``), the query runs (default ``SELECT NOW()``)
  and a failing query reads ``Query Error: <server message>``; ``fields`` are tested against the rows;
- ``secure``: TLS inside the MySQL protocol (both ``ssl`` and ``starttls`` mean that); a server that does not
  offer TLS fails before any credentials are sent. There is no ``verify`` field, so the certificate is not
  checked (the SSL check type is for certificates).
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import aiomysql

from checktypes._common import FieldsMap, Secure
from checktypes._db import (
    DEFAULT_QUERY,
    connection_reason,
    query_result,
    resolve_host,
)
from checktypes._net import resolution_message
from checktypes._tls import client_context
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, Port, StrIsh

NAME = "MYSQL"

DEFAULT_USER = "vedette"
"""Sent when no ``username`` is configured: the server answering "Access denied" still proves it is alive."""

_ACCESS_DENIED = frozenset({1045, 1698})  # ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR
_CAN_NOT_CONNECT = 2003  # CR_CONN_HOST_ERROR: aiomysql wraps the OSError in it
_CLIENT_SSL = 0x800  # the server's CLIENT_SSL capability flag


class Params(CheckParams):
    SECRET_FIELDS = frozenset({"password"})

    port: Port = 3306
    username: StrIsh | None = None
    password: StrIsh | None = None
    secure: Secure = False
    ipv6: BoolIsh = False
    database: StrIsh | None = None
    query: StrIsh | None = None
    """Absent = ``SELECT NOW()`` at run time."""
    fields: FieldsMap | None = None
    """Columns to test in the result rows (``match`` allowed)."""


class _NoTlsOffered(Exception):
    """``secure`` is set but the server's greeting does not offer TLS."""


class _Connection(aiomysql.Connection):  # type: ignore[misc]
    """aiomysql silently stays in plain text when the server lacks TLS; with ``secure`` that is a failure,
    and it must be detected after the greeting and before the credentials go out."""

    async def _request_authentication(self) -> None:
        if self._ssl_context is not None and not self.server_capabilities & _CLIENT_SSL:
            raise _NoTlsOffered
        await super()._request_authentication()


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing MySQL FQDN or IP")
    try:
        address = await resolve_host(ctx.target, params.ipv6)
    except socket.gaierror as exc:
        return CheckResult.down("Error", resolution_message(ctx.target, exc))
    connection = _Connection(
        host=address,
        port=params.port,
        user=params.username or DEFAULT_USER,
        password=params.password or "",
        db=params.database or None,
        ssl=client_context(verify=False) if params.secure else None,
        charset="utf8mb4",
        autocommit=True,  # the server default: no SET statement at connect, no transaction left open
    )
    try:
        await connection._connect()
    except _NoTlsOffered:
        return CheckResult.down("Error", "Connection Error: Server does not support secure connection")
    except aiomysql.MySQLError as exc:
        return _connect_failure(exc, params)
    except BaseException:  # cancelled by the runner's timeout: aiomysql leaves the socket open
        connection.close()
        raise
    try:
        if not params.database:
            result = CheckResult.up("Responded", "Connected")
        else:
            result = await _query(connection, params)
        with contextlib.suppress(OSError):  # a polite COM_QUIT keeps "Aborted connection" out of server logs
            await connection.ensure_closed()
        return result
    finally:
        connection.close()


def _connect_failure(exc: aiomysql.MySQLError, params: Params) -> CheckResult:
    code, message = _code_and_message(exc)
    if code in _ACCESS_DENIED:
        if not params.database:
            return CheckResult.up("Responded", "Authentication error but responded")
        return CheckResult.down("Error", "Authentication Error")
    cause = exc.__cause__
    if code == _CAN_NOT_CONNECT and isinstance(cause, OSError):
        message = connection_reason(cause)
    return CheckResult.down("Error", f"Connection Error: {message}")


async def _query(connection: Any, params: Params) -> CheckResult:
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(params.query or DEFAULT_QUERY)
            rows = await cursor.fetchall()
            columns = [column[0] for column in cursor.description or ()]
    except aiomysql.MySQLError as exc:
        return CheckResult.down("Error", f"Query Error: {_code_and_message(exc)[1]}")
    return query_result([dict(zip(columns, row, strict=True)) for row in rows], params.fields)


def _code_and_message(exc: aiomysql.MySQLError) -> tuple[int | None, str]:
    """PyMySQL errors carry ``(code, server message)``; a few carry only a message."""
    args = exc.args
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1])
    return None, str(args[0]) if args else type(exc).__name__
