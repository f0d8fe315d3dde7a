"""PORT: a TCP connect to target:port, then close."""

from __future__ import annotations

import socket

from checktypes._net import open_connection, os_reason, resolution_message
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, Port

NAME = "PORT"


class Params(CheckParams):
    port: Port
    invert: BoolIsh = False
    ipv6: BoolIsh = False


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    try:
        _, writer = await open_connection(ctx.target, params.port, ipv6=params.ipv6)
    except socket.gaierror as exc:
        result = CheckResult.down("error", resolution_message(ctx.target, exc))
    except OSError as exc:
        result = CheckResult.down("error", f"Error: {os_reason(exc)}")
    else:
        peer = writer.get_extra_info("peername")
        writer.close()
        result = CheckResult.up("Connected", f"Resolved: {peer[0] if peer else ctx.target}")
    return result.inverted(params.invert)
