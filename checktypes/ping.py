"""PING: one ICMP echo request; the round-trip time is charted.

On the wire: ``PING_COUNT`` (1, as the AGENT) ICMP echo requests with icmplib's ``async_ping``, ICMPv6 when
``ipv6`` is set or the target resolves only to an IPv6 address. Raw sockets when the probe may open them,
otherwise unprivileged ping sockets (``net.ipv4.ping_group_range``); neither → a config error
``ICMP not permitted: ...``.

Pass / fail (check-types.md §4 PING): a reply → pass, ``sc`` = the round-trip time in ms with 2 decimals
(the mean when ``PING_COUNT`` > 1),
``rt`` (``value``) = the same number, ``m`` = the resolved IP. No reply → fail ``sc = "timeout"``,
``m = "Timeout"``: the plugin waits for the reply slightly less than the check's timeout so that its own
result, not the runner's ``"Timeout"``, is reported. Details: address, packets sent/received, packet loss
(%), RTTs (ms).
"""

from __future__ import annotations

import socket
from typing import Any

from icmplib import ICMPLibError, async_ping

from checktypes._endpoint import answer_budget
from checktypes._icmp import icmp_identifier, icmp_privileged, resolve
from checktypes._net import resolution_message
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError

NAME = "PING"

PING_COUNT = 1


class Params(CheckParams):
    ipv6: BoolIsh = False


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    try:
        address = await resolve(ctx.target, params.ipv6)
    except socket.gaierror as exc:
        return CheckResult.down("error", resolution_message(ctx.target, exc))
    privileged = icmp_privileged(address)
    try:
        host = await async_ping(
            address,
            count=PING_COUNT,
            interval=0,
            timeout=answer_budget(ctx),
            id=icmp_identifier(),
            privileged=privileged,
        )
    except ICMPLibError as exc:
        return CheckResult.down("error", f"Error: {exc}")
    details: dict[str, Any] = {
        "address": address,
        "packets_sent": host.packets_sent,
        "packets_received": host.packets_received,
        "packet_loss": round(host.packet_loss * 100, 2),
        "rtts": [round(rtt, 3) for rtt in host.rtts],
        "privileged": privileged,
    }
    if not host.is_alive:
        return CheckResult.down("timeout", "Timeout", details=details)
    rtt = round(sum(host.rtts) / len(host.rtts), 2)
    details.update(min_rtt=host.min_rtt, avg_rtt=host.avg_rtt, max_rtt=host.max_rtt)
    return CheckResult.up(f"{rtt:.2f}", address, value=rtt, details=details)
