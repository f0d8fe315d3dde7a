"""ICMP helpers shared by PING and MTR (icmplib sockets, driven from the event loop).

Which sockets: raw ICMP sockets (icmplib ``privileged=True``) need root or CAP_NET_RAW; Linux also offers
unprivileged "ping" datagram sockets to the groups listed in ``net.ipv4.ping_group_range``. The kernel is
the judge of both, so :func:`icmp_privileged` simply tries to create them (root: raw first; others:
datagram first) and raises ``ConfigError`` with a clear message when neither is allowed. MTR needs raw
sockets (the kernel does not deliver Time Exceeded messages to ping sockets as data).

Resolution follows check-types.md §2.1: AAAA only with ``ipv6``; otherwise A first, then AAAA.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from typing import Any

from icmplib import ICMPv4Socket, ICMPv6Socket, SocketPermissionError

from prober.base import ConfigError

ICMP_NOT_PERMITTED = "ICMP not permitted: run as root or allow unprivileged ping (net.ipv4.ping_group_range)"
RAW_ICMP_NOT_PERMITTED = "Raw ICMP sockets not permitted: run the probe as root (or with CAP_NET_RAW)"


async def resolve(host: str, ipv6: bool) -> str:
    """The first address of ``host`` (an IP literal is returned as is). Raises ``socket.gaierror``."""
    loop = asyncio.get_running_loop()
    families = [socket.AF_INET6] if ipv6 else [socket.AF_INET, socket.AF_INET6]
    for family in families:
        try:
            infos = await loop.getaddrinfo(host, None, family=family, type=socket.SOCK_DGRAM)
        except socket.gaierror:
            if family == families[-1]:
                raise
            continue  # no A record (or an IPv6 literal): fall back to AAAA
        return str(infos[0][4][0])
    raise AssertionError("unreachable")  # pragma: no cover


_identifiers = itertools.count(int.from_bytes(os.urandom(2)))


def icmp_identifier() -> int:
    """An ICMP echo identifier: consecutive within this process, so concurrent checks never share one;
    from a random start, so other processes on the host (other probes; icmplib counts up from the PID)
    rarely use the same one at the same time."""
    return next(_identifiers) & 0xFFFF


def is_ipv6(address: str) -> bool:
    return ":" in address


def socket_class(address: str) -> Any:
    """icmplib's ICMPv6Socket or ICMPv4Socket class (icmplib has no type hints)."""
    return ICMPv6Socket if is_ipv6(address) else ICMPv4Socket


def icmp_privileged(address: str) -> bool:
    """True for raw sockets, False for unprivileged datagram sockets; ``ConfigError`` when neither works."""
    sock_class = socket_class(address)
    order = (True, False) if os.geteuid() == 0 else (False, True)
    for privileged in order:
        try:
            sock_class(privileged=privileged).close()
        except SocketPermissionError:
            continue
        return privileged
    raise ConfigError(ICMP_NOT_PERMITTED)


def raw_socket(address: str) -> Any:
    """A raw ICMP socket for ``address``'s family; ``ConfigError`` without the privilege."""
    try:
        return socket_class(address)(privileged=True)
    except SocketPermissionError:
        raise ConfigError(RAW_ICMP_NOT_PERMITTED) from None
