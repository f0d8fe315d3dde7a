"""MONGODB: connect to a MongoDB URI; optional find() whose results are tested against fields.

check-types.md §4 MONGODB (AGENT code), with pymongo's asyncio client (extra ``mongodb``, imported lazily):

- the target is a ``mongodb://`` (or ``mongodb+srv://``) URI; credentials, TLS (``tls=true``, ``tlsCAFile``,
  ...) and other options go in the URI as for any driver. A single host is contacted directly
  (``directConnection``) unless the URI says otherwise;
- connect and ``ping``: connection errors read ``Connection Error: <err>`` (refused: "connection actively
  refused by firewall"; unresolvable: "DNS error: unable to resolve host name <h>"); an authentication error
  passes as ``Connected`` when no ``database`` is configured, as the server did answer;
- with ``database``, ``namespace`` and ``query`` (a JSON filter; MongoDB Extended JSON such as
  ``{"$oid": ...}`` is understood): ``find(query)`` with at most 25 results (``queryoptions`` may lower
  ``limit`` and set ``skip``, ``sort``, ``projection``), then ``fields`` (dot paths into the documents) or
  the result count.

pymongo keeps retrying server selection until its own timeout, so that timeout is set just inside the run's
budget: a server that refuses or fails the handshake is reported with its error rather than as "Timeout".
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from typing import Any

from checktypes._common import FieldsMap
from checktypes._db import REFUSED, plain_value, query_result, tls_error
from checktypes._fields import flatten
from prober.base import CheckContext, CheckParams, CheckResult, ConfigError, StrIsh

NAME = "MONGODB"

SCHEMES = ("mongodb://", "mongodb+srv://")
INVALID_URI = "Invalid MongoDB URI"
MAX_RESULTS = 25
"""find() never returns more documents than this (AGENT code)."""

QUERY_OPTIONS = {"limit": "limit", "skip": "skip", "sort": "sort", "projection": "projection"}
"""``queryoptions`` keys (node driver spelling) and the pymongo ``find()`` argument each one becomes."""

_AUTHENTICATION_FAILED = 18
_SELECTION_SLACK = 0.6
"""Seconds of the run's timeout kept back from server selection: pymongo re-checks every 0.5 s, so it may
overrun its own timeout by that much, and the result must be reported before the runner's deadline."""
# "127.0.0.1:1: [Errno 111] Connection refused (configured timeouts: ...)" -> errno 111
_ERRNO = re.compile(r"\[Errno (-?\d+)\]")
_TIMEOUT_DETAILS = re.compile(r" \(configured timeouts: [^)]*\)")


class Params(CheckParams):
    database: StrIsh | None = None
    namespace: StrIsh | None = None
    """The collection queried."""
    query: StrIsh | None = None
    """A JSON filter for ``find()``; run only when ``database`` and ``namespace`` are set too."""
    queryoptions: StrIsh | None = None
    """JSON ``find()`` options (NodePing AGENT extension)."""
    fields: FieldsMap | None = None
    """Values to test in the results (``match`` allowed)."""

    @classmethod
    def check_target(cls, target: str) -> str:
        if not target.lower().startswith(SCHEMES):
            raise ValueError(INVALID_URI)
        return target


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    try:
        from bson import errors as bson_errors
        from bson import json_util
        from pymongo import AsyncMongoClient, errors, uri_parser
    except ImportError:
        raise ConfigError("MONGODB checks need the mongodb extra: pip install 'vedette[mongodb]'") from None
    if not ctx.target:
        raise ConfigError("Missing MongoDB URI")
    if not ctx.target.lower().startswith(SCHEMES):
        raise ConfigError(INVALID_URI)

    query: dict[str, Any] | None = None
    find_options: dict[str, Any] = {}
    if params.database and params.namespace and params.query:
        json_errors = (ValueError, TypeError, bson_errors.BSONError)
        query = _parse_json(
            json_util.loads, json_errors, params.query, "Unable to parse the query - invalid JSON"
        )
        find_options = _find_options(json_util.loads, json_errors, params.queryoptions)

    options, host = _client_options(uri_parser, errors, ctx)
    try:
        client: Any = AsyncMongoClient(ctx.target, **options)
    except (errors.PyMongoError, ValueError, TypeError):
        raise ConfigError(INVALID_URI) from None
    try:
        try:
            await client.admin.command("ping")
        except errors.OperationFailure as exc:
            if exc.code == _AUTHENTICATION_FAILED and not params.database:
                return CheckResult.up("Connected", "Connected")
            return CheckResult.down("Error", f"Connection Error: {_server_message(exc)}")
        except errors.ServerSelectionTimeoutError:
            return _selection_failure(client, errors, host)
        except errors.ConnectionFailure as exc:
            return _connection_failure(exc, host)
        except errors.ConfigurationError as exc:  # e.g. a mongodb+srv:// name without SRV records
            return CheckResult.down("Error", f"Connection Error: {exc}")
        if query is None:
            return CheckResult.up("Success", "Connected")
        try:
            cursor = client[params.database][params.namespace].find(query, **find_options)
        except (errors.PyMongoError, TypeError, ValueError) as exc:  # checked before anything is sent
            raise ConfigError(f"Invalid query options: {exc}") from None
        try:
            documents = await cursor.to_list(None)
        except errors.OperationFailure as exc:
            return CheckResult.down("Error", f"Query Error: {_server_message(exc)}")
        except errors.ConnectionFailure as exc:
            return _connection_failure(exc, host)
        rows = [
            {path: plain_value(value) for path, value in flatten(document).items()} for document in documents
        ]
        return query_result(rows, params.fields)
    finally:
        await client.close()


def _parse_json(
    loads: Callable[[str], Any], json_errors: tuple[type[Exception], ...], text: str, error: str
) -> dict[str, Any]:
    """A JSON object (MongoDB Extended JSON), or ``ConfigError(error)``."""
    try:
        value = loads(text)
    except json_errors:
        raise ConfigError(error) from None
    if not isinstance(value, dict):
        raise ConfigError(error)
    return value


def _find_options(
    loads: Callable[[str], Any], json_errors: tuple[type[Exception], ...], text: str | None
) -> dict[str, Any]:
    error = "Unable to parse the query options - invalid JSON"
    given = _parse_json(loads, json_errors, text, error) if text else {}
    options: dict[str, Any] = {}
    for key, value in given.items():
        if key not in QUERY_OPTIONS:
            raise ConfigError(f"Unsupported query option: {key} (supported: {', '.join(QUERY_OPTIONS)})")
        options[QUERY_OPTIONS[key]] = value
    limit = options.get("limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= MAX_RESULTS:
        options["limit"] = MAX_RESULTS
    if isinstance(options.get("sort"), dict):
        options["sort"] = list(options["sort"].items())
    return options


def _client_options(uri_parser: Any, errors: Any, ctx: CheckContext) -> tuple[dict[str, Any], str]:
    """Driver options the URI does not set itself, and the host to name in DNS errors."""
    selection = max(ctx.timeout - _SELECTION_SLACK, ctx.timeout / 3)
    options: dict[str, Any] = {
        "serverSelectionTimeoutMS": max(int(selection * 1000), 1),
        "connectTimeoutMS": int(ctx.timeout * 1000),
        "maxPoolSize": 1,
        "retryReads": False,
        "retryWrites": False,
        "appname": ctx.user_agent,
    }
    if ctx.target.lower().startswith("mongodb+srv://"):
        # Parsing an SRV URI resolves it (blocking); the client resolves it itself, asynchronously.
        host = ctx.target.split("://", 1)[1].rpartition("@")[2].split("/", 1)[0].split("?", 1)[0]
        return options, host
    try:
        parsed = uri_parser.parse_uri(ctx.target)
    except (errors.PyMongoError, ValueError, TypeError):  # InvalidURI, ConfigurationError, bad numbers
        raise ConfigError(INVALID_URI) from None
    given = {str(key).lower() for key in parsed["options"]}
    nodes = parsed["nodelist"]
    if len(nodes) == 1 and not given & {"directconnection", "replicaset", "loadbalanced"}:
        options["directConnection"] = True
    return {key: value for key, value in options.items() if key.lower() not in given}, nodes[0][0]


def _server_message(exc: Any) -> str:
    """The server's own words ("Authentication failed."), without pymongo's ", full error: {...}"."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if details.get("errmsg"):
        return str(details["errmsg"])
    return str(exc.args[0]) if exc.args else str(exc)


def _connection_failure(error: BaseException, host: str) -> CheckResult:
    """pymongo keeps only the text of the socket error (it drops the cause): read the errno back from it."""
    text = _TIMEOUT_DETAILS.sub("", str(error))
    number = _ERRNO.search(text)
    if number and int(number.group(1)) < 0:  # a getaddrinfo (EAI_*) error
        return CheckResult.down("Error", f"DNS error: unable to resolve host name {host}")
    if number and int(number.group(1)) == errno.ECONNREFUSED:
        reason = REFUSED
    else:
        # pymongo writes "[SSL handshake failed: ]<host>:<port>: <error>", and the error may be empty.
        reason = (
            tls_error(text) or re.sub(r"\S+:\d+: ?", "", text, count=1).rstrip(": ") or "connection failed"
        )
    return CheckResult.down("Error", f"Connection Error: {reason}")


def _selection_failure(client: Any, errors: Any, host: str) -> CheckResult:
    """No server was usable in time: report why, as the monitor last saw it (no error yet: a timeout)."""
    for server in client.topology_description.server_descriptions().values():
        if server.error is not None and not isinstance(server.error, errors.NetworkTimeout):
            return _connection_failure(server.error, host)
    return CheckResult.down("Timeout", "Timeout")
