"""PORT: a TCP connect to target:port, then close."""

from __future__ import annotations

import asyncio
import os
import socket

from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, Port

NAME = "PORT"

_NO_ADDRESS_ERRORS = frozenset(
    getattr(socket, name) for name in ("EAI_NODATA", "EAI_ADDRFAMILY", "EAI_FAMILY") if hasattr(socket, name)
)


class Params(CheckParams):
    port: Port
    invert: BoolIsh = False
    ipv6: BoolIsh = False


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    try:
        writer = await _connect(ctx.target, params.port, params.ipv6)
    except socket.gaierror as exc:
        result = CheckResult.down("error", _resolution_message(ctx.target, exc))
    except OSError as exc:
        # "Connection refused", not asyncio's "Connect call failed ('127.0.0.1', 1)".
        reason = os.strerror(exc.errno) if exc.errno is not None else str(exc)
        result = CheckResult.down("error", f"Error: {reason}")
    else:
        peer = writer.get_extra_info("peername")
        writer.close()
        result = CheckResult.up("Connected", f"Resolved: {peer[0] if peer else ctx.target}")
    return result.inverted(params.invert)


async def _connect(host: str, port: int, ipv6: bool) -> asyncio.StreamWriter:
    """Connect over AAAA only with ``ipv6``; otherwise A first, AAAA when there is none (check-types.md §2.1).

    One address family at a time, so a refusal surfaces as one ``OSError`` with its errno rather than
    asyncio's "Multiple exceptions" summary.
    """
    if not ipv6:
        try:
            _, writer = await asyncio.open_connection(host, port, family=socket.AF_INET)
            return writer
        except socket.gaierror:
            pass  # no A record (or an IPv6 literal): fall back to AAAA
    _, writer = await asyncio.open_connection(host, port, family=socket.AF_INET6)
    return writer


def _resolution_message(host: str, error: socket.gaierror) -> str:
    if error.errno == socket.EAI_NONAME:
        return f"No DNS resolution for {host}"
    if error.errno in _NO_ADDRESS_ERRORS:
        return f"No addresses found for {host}"
    return f"Error resolving {host}: {error.strerror or error}"
