"""Network helpers shared by the built-in check types: name resolution order and error wording.

Rules from check-types.md §2.1: with ``ipv6`` only AAAA is used; otherwise A first, then AAAA when there is
no A. Resolution failures read "No DNS resolution for <host>", "No addresses found for <host>" or
"Error resolving <host>: ...". Connection errors read as the OS reason ("Connection refused").
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl

_NO_ADDRESS_ERRORS = frozenset(
    getattr(socket, name) for name in ("EAI_NODATA", "EAI_ADDRFAMILY", "EAI_FAMILY") if hasattr(socket, name)
)


def resolution_message(host: str, error: OSError) -> str:
    if isinstance(error, socket.gaierror):
        if error.errno == socket.EAI_NONAME:
            return f"No DNS resolution for {host}"
        if error.errno in _NO_ADDRESS_ERRORS:
            return f"No addresses found for {host}"
        return f"Error resolving {host}: {error.strerror or error}"
    return f"No addresses found for {host}"


def os_reason(exc: OSError) -> str:
    """ "Connection refused", not asyncio's "Connect call failed ('127.0.0.1', 1)"."""
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    return os.strerror(exc.errno) if exc.errno is not None else str(exc) or type(exc).__name__


async def open_connection(
    host: str,
    port: int,
    *,
    ipv6: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    limit: int = 2**16,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect over AAAA only with ``ipv6``; otherwise A first, AAAA when there is none.

    One address family at a time, so a refusal surfaces as one ``OSError`` with its errno rather than
    asyncio's "Multiple exceptions" summary. ``socket.gaierror`` means the name did not resolve.
    """
    hostname = server_hostname if ssl_context is not None else None
    if not ipv6:
        try:
            return await asyncio.open_connection(
                host, port, family=socket.AF_INET, limit=limit, ssl=ssl_context, server_hostname=hostname
            )
        except socket.gaierror:
            pass  # no A record (or an IPv6 literal): fall back to AAAA
    return await asyncio.open_connection(
        host, port, family=socket.AF_INET6, limit=limit, ssl=ssl_context, server_hostname=hostname
    )
