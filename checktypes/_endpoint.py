"""Endpoint helpers for the network check types (NTP, SIP, RDP, WHOIS, PING, MTR).

- ``split_host_port``: ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 literal.
- ``answer_budget``: how long a plugin may wait for an answer when it must report "no answer" itself
  (an inverted NTP check passes on silence; PING reports ``sc = "timeout"``), leaving the runner's own
  timeout as the backstop.
- ``DatagramChannel``: one connected UDP socket, resolved with the A-then-AAAA rule of check-types.md §2.1.
  A connected socket only accepts datagrams from the server's address, and an ICMP port unreachable
  surfaces as ``ConnectionRefusedError`` from :meth:`DatagramChannel.receive`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

from prober.base import CheckContext

_BUDGET_MARGIN = 0.25
"""Seconds kept back from the runner's timeout so the plugin's own "no answer" result wins the race."""


def answer_budget(ctx: CheckContext) -> float:
    """Seconds to wait for an answer: slightly less than ``ctx.timeout`` (at least 80% of it)."""
    return max(ctx.timeout - _BUDGET_MARGIN, ctx.timeout * 0.8)


def split_host_port(value: str, default_port: int) -> tuple[str, int]:
    """``"host"`` / ``"host:port"`` / ``"[::1]:port"`` / ``"::1"`` -> (host, port).

    Raises ``ValueError`` with a message fit for the user when the port is not a number in 1..65535 or the
    host is empty.
    """
    text = value.strip()
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"Invalid address {value!r}: missing ']'")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"Invalid address {value!r}")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host:
        raise ValueError(f"Invalid address {value!r}: missing host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"Invalid port {port_text!r} in {value!r}")
    return host, int(port_text)


def format_host(host: str) -> str:
    """An IPv6 literal in brackets (for URIs and Via headers), anything else unchanged."""
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            return f"[{host}]"
    except ValueError:
        pass
    return host


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: asyncio.Queue[bytes | OSError] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.datagrams.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            self.datagrams.put_nowait(exc)


class DatagramChannel:
    """A connected UDP socket to one server. Close it with :meth:`close` (or use ``async with``)."""

    def __init__(self, transport: asyncio.DatagramTransport, collector: _Collector) -> None:
        self._transport = transport
        self._collector = collector

    @classmethod
    async def open(cls, host: str, port: int, *, ipv6: bool = False) -> DatagramChannel:
        """Resolve (AAAA only with ``ipv6``, else A then AAAA) and connect.

        ``socket.gaierror`` means the name did not resolve.
        """
        loop = asyncio.get_running_loop()
        families = [socket.AF_INET6] if ipv6 else [socket.AF_INET, socket.AF_INET6]
        for family in families:
            try:
                transport, collector = await loop.create_datagram_endpoint(
                    _Collector, remote_addr=(host, port), family=family
                )
            except socket.gaierror:
                if family == families[-1]:
                    raise
                continue  # no A record (or an IPv6 literal): fall back to AAAA
            return cls(transport, collector)
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def local_address(self) -> tuple[str, int]:
        sockname = self._transport.get_extra_info("sockname")
        return str(sockname[0]), int(sockname[1])

    @property
    def remote_address(self) -> tuple[str, int]:
        peername = self._transport.get_extra_info("peername")
        return str(peername[0]), int(peername[1])

    def send(self, data: bytes) -> None:
        self._transport.sendto(data)

    async def receive(self) -> bytes:
        """The next datagram from the server; an ICMP error (port unreachable, ...) raises ``OSError``."""
        item = await self._collector.datagrams.get()
        if isinstance(item, OSError):
            raise item
        return item

    def close(self) -> None:
        self._transport.close()

    async def __aenter__(self) -> DatagramChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
