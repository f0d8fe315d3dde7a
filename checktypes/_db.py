"""Shared by the database check types (MYSQL, PGSQL, MONGODB): result rows against ``fields``, error wording.

Rules from check-types.md §3.3 and §4 (AGENT code): a field's value is taken from the first result row that
has that column; when no row has any of the configured columns the run fails with
"Query did not return any required fields"; otherwise §3.3 applies with the DB types' pass message. A refused
connection reads "connection actively refused by firewall".
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from checktypes._fields import QUERY_OK, evaluate_fields
from checktypes._net import os_reason
from prober.base import CheckResult, FieldSpec

DEFAULT_QUERY = "SELECT NOW()"
REFUSED = "connection actively refused by firewall"
NO_REQUIRED_FIELDS = "Query did not return any required fields"

# "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: ... (_ssl.c:1006)" -> "certificate verify ..."
_SSL_TEXT = re.compile(r"\[SSL(?:: [A-Z0-9_]+)?\] (.+?)(?: \(_ssl\.c:\d+\))?$")

Row = Mapping[str, Any]


def plain_value(value: Any) -> Any:
    """A database value as ``fields`` sees it: numbers and strings stay, everything else becomes text.

    Decimals become their exact text (still compared numerically); NULL, true and false read as in JSON
    (``"null"``, ``"true"``, ``"false"``), so ``match`` sees what the AGENT's JavaScript sees; bytes are
    decoded.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def first_values(rows: Iterable[Row], names: set[str]) -> dict[str, Any]:
    """For each wanted column, its value in the first row that has the column."""
    found: dict[str, Any] = {}
    for row in rows:
        for name, value in row.items():
            if name in names and name not in found:
                found[name] = value
        if len(found) == len(names):
            break
    return found


def query_result(rows: Sequence[Row], fields: Mapping[str, FieldSpec] | None) -> CheckResult:
    """The outcome of a query that ran: a row count without ``fields``, else the §3.3 evaluation."""
    if not fields:
        return CheckResult.up("Success", f"Query returned {len(rows)} results")
    found = first_values(rows, {spec.name for spec in fields.values()})
    if not found:
        return CheckResult.down("Error", NO_REQUIRED_FIELDS)
    result = evaluate_fields(
        fields, {name: plain_value(value) for name, value in found.items()}, ok_message=QUERY_OK
    )
    result.code = "Success" if result.success else "Query Result Error"
    return result


def connection_reason(exc: OSError) -> str:
    """What went wrong below the database protocol, in words ("connection actively refused by firewall")."""
    if isinstance(exc, ConnectionRefusedError):
        return REFUSED
    if isinstance(exc, ssl.SSLError):
        return tls_error(str(exc)) or f"TLS error: {os_reason(exc)}"
    return os_reason(exc)


def tls_error(text: str) -> str | None:
    """ "TLS error: certificate verify failed: ..." when ``text`` quotes an OpenSSL error, else None."""
    match = _SSL_TEXT.search(text)
    return f"TLS error: {match.group(1)}" if match else None


async def resolve_host(host: str, ipv6: bool) -> str:
    """The address to connect to: AAAA only with ``ipv6``; otherwise A first, AAAA when there is none.

    Raises ``socket.gaierror`` (for ``resolution_message``) when the name does not resolve as required.
    """
    loop = asyncio.get_running_loop()
    families = (socket.AF_INET6,) if ipv6 else (socket.AF_INET, socket.AF_INET6)
    error: socket.gaierror | None = None
    for family in families:
        try:
            infos = await loop.getaddrinfo(host, None, family=family, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            error = error or exc  # report the A failure, not the AAAA fallback's
            continue
        if infos:
            address = str(infos[0][4][0])
            return address
    assert error is not None
    raise error
