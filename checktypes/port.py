"""PORT: a TCP connect to target:port, then close."""

from __future__ import annotations

import asyncio

from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, Port

NAME = "PORT"


class Params(CheckParams):
    port: Port
    invert: BoolIsh = False
    ipv6: BoolIsh = False


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    try:
        reader, writer = await asyncio.open_connection(ctx.target, params.port)
    except OSError as exc:
        result = CheckResult.down("error", f"Error: {exc.strerror or exc}")
    else:
        peer = writer.get_extra_info("peername")
        writer.close()
        result = CheckResult.up("Connected", f"Resolved: {peer[0] if peer else ctx.target}")
    return result.inverted(params.invert)
