"""MTR: an MTR trace to the target; fails when the target hop's packet loss exceeds `threshold` %.

On the wire (like ``mtr --report --no-dns``): ICMP echo requests of 60 bytes with TTL 1, 2, ... through
icmplib raw sockets driven from the event loop (icmplib's own ``traceroute()`` blocks). ``PROBES_PER_HOP``
rounds; each round sends one probe per TTL (TTL 1..``MAX_HOPS`` until the target's distance is known, then
1..distance) and collects Echo Reply / Time Exceeded / Destination Unreachable answers, matched by
identifier and sequence, for at most ``ROUND_WAIT`` seconds (less when the check's timeout is short; a round
that got every answer ends at once). ``threshold`` is the loss limit in percent, so the run uses the
runner's default timeout.

Pass / fail (check-types.md §4 MTR): the target hop is the smallest TTL answered by the target itself.
Loss there (truncated to an integer) is ``rt`` (``value``) and ``sc = "Packet loss:<n>%"``; loss > threshold →
fail ``m = "Packet loss <n>% greater than configured threshold of <t>%"``; never reached → fail
``sc = "Unreachable: 100%"``, ``m = "Unable to reach host at <ip>"``; otherwise pass ``m = <target ip>``.
``fieldtracking`` = best, avg, wrst, jttr, javg, jmax, jint (ms) and loss (%) of the target hop;
``details["hops"]`` lists every hop (address, sent, received, loss, best/avg/wrst).
Raw sockets need root (or CAP_NET_RAW); without them the run is a config error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from icmplib import AsyncSocket, ICMPLibError, ICMPRequest

from checktypes._endpoint import answer_budget
from checktypes._icmp import icmp_identifier, is_ipv6, raw_socket, resolve
from checktypes._net import os_reason, resolution_message
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError

NAME = "MTR"
THRESHOLD_IS_TIMEOUT = False
"""``threshold`` is the maximum packet loss in percent, not a timeout."""

PROBES_PER_HOP = 5
MAX_HOPS = 30
ROUND_WAIT = 1.0
"""Seconds one round waits for its answers (mtr's default interval)."""
PACKET_SIZE = 60
"""Bytes per probe including the IP and ICMP headers (the AGENT's ``mtr -s 60``)."""


class Params(CheckParams):
    ipv6: BoolIsh = False


# --- parsing what a raw ICMP socket receives (sans-IO) ----------------------------------------------

Kind = Literal["reply", "time-exceeded", "unreachable"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class IcmpAnswer:
    kind: Kind
    ident: int
    sequence: int
    code: int
    destination: IPAddress | None = None
    """Errors: where the probe that caused them was going."""
    payload: bytes = b""
    """Echo replies: the echoed payload."""


# (echo request, echo reply, time exceeded, destination unreachable) per family
_TYPES_V4 = (8, 0, 11, 3)
_TYPES_V6 = (128, 129, 3, 1)
_IPPROTO_ICMP, _IPPROTO_ICMPV6 = 1, 58


def parse_answer(packet: bytes, ipv6: bool) -> IcmpAnswer | None:
    """An answer to one of our echo requests, or None for anything else (our own requests on loopback,
    other ICMP traffic). Raw IPv4 sockets deliver the IP header, raw IPv6 sockets do not."""
    if ipv6:
        icmp = packet
        request, reply, exceeded, unreachable = _TYPES_V6
    else:
        if len(packet) < 20:
            return None
        icmp = packet[(packet[0] & 0x0F) * 4 :]
        request, reply, exceeded, unreachable = _TYPES_V4
    if len(icmp) < 8:
        return None
    kind_type, code = icmp[0], icmp[1]
    if kind_type == reply:
        ident, sequence = struct.unpack_from("!HH", icmp, 4)
        return IcmpAnswer("reply", ident, sequence, code, payload=icmp[8:])
    if kind_type not in (exceeded, unreachable):
        return None
    inner = icmp[8:]  # the start of the datagram that caused the error: our echo request
    destination: IPAddress
    if ipv6:
        if len(inner) < 48 or inner[6] != _IPPROTO_ICMPV6:
            return None
        destination, original = ipaddress.IPv6Address(inner[24:40]), inner[40:]
    else:
        if len(inner) < 28 or inner[9] != _IPPROTO_ICMP:
            return None
        destination, original = ipaddress.IPv4Address(inner[16:20]), inner[(inner[0] & 0x0F) * 4 :]
    if len(original) < 8 or original[0] != request:
        return None
    ident, sequence = struct.unpack_from("!HH", original, 4)
    kind: Kind = "time-exceeded" if kind_type == exceeded else "unreachable"
    return IcmpAnswer(kind, ident, sequence, code, destination=destination)


def is_ours(answer: IcmpAnswer, source: IPAddress, target: IPAddress, ident: int, payload: bytes) -> bool:
    """Whether ``answer`` answers one of our probes. Identifiers are only 16 bits and every raw socket on the
    host sees every ICMP message, so replies must also come from the target with our payload, and errors
    must be about a probe to the target."""
    if answer.ident != ident:
        return False
    if answer.kind == "reply":
        return source == target and answer.payload == payload
    return answer.destination == target


# --- per-hop statistics -----------------------------------------------------------------------------


@dataclass
class Hop:
    ttl: int
    sent: int = 0
    rtts: list[float] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    def answered(self, address: str, rtt: float) -> None:
        self.rtts.append(rtt)
        if address not in self.addresses:
            self.addresses.append(address)

    @property
    def received(self) -> int:
        return len(self.rtts)

    @property
    def loss(self) -> float:
        """Percent of probes without an answer (mtr's Loss%)."""
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0

    def summary(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "hop": self.ttl,
            "address": self.addresses[0] if self.addresses else None,
            "sent": self.sent,
            "received": self.received,
            "loss": round(self.loss, 1),
        }
        if len(self.addresses) > 1:
            row["addresses"] = self.addresses
        if self.rtts:
            row.update(
                best=round(min(self.rtts), 3),
                avg=round(sum(self.rtts) / len(self.rtts), 3),
                wrst=round(max(self.rtts), 3),
            )
        return row

    def fieldtracking(self, loss: int) -> dict[str, float]:
        """best/avg/wrst and mtr's jitter columns (jttr: last, javg: mean, jmax, jint: RFC 3550 smoothed)."""
        rtts = self.rtts or [0.0]
        jitters = [abs(b - a) for a, b in itertools.pairwise(rtts)] or [0.0]
        smoothed = 0.0
        for jitter in jitters:
            smoothed += (jitter - smoothed) / 16
        return {
            "best": round(min(rtts), 3),
            "avg": round(sum(rtts) / len(rtts), 3),
            "wrst": round(max(rtts), 3),
            "jttr": round(jitters[-1], 3),
            "javg": round(sum(jitters) / len(jitters), 3),
            "jmax": round(max(jitters), 3),
            "jint": round(smoothed, 3),
            "loss": loss,
        }


@dataclass
class Trace:
    address: str
    hops: dict[int, Hop] = field(default_factory=dict)
    distance: int | None = None
    """TTL of the target hop (the smallest TTL the target itself answered)."""
    last_ttl: int = MAX_HOPS
    """No probe goes further than this (lowered by a Destination Unreachable)."""
    errors: list[str] = field(default_factory=list)

    def hop(self, ttl: int) -> Hop:
        return self.hops.setdefault(ttl, Hop(ttl))

    @property
    def horizon(self) -> int:
        return min(self.distance or self.last_ttl, self.last_ttl)

    def record(self, ttl: int, answer: IcmpAnswer, source: str, rtt: float) -> None:
        self.hop(ttl).answered(source, rtt)
        if answer.kind == "reply":
            self.distance = ttl if self.distance is None else min(self.distance, ttl)
        elif answer.kind == "unreachable":
            self.last_ttl = min(self.last_ttl, ttl)

    def listed_hops(self) -> list[Hop]:
        answered = [ttl for ttl, hop in self.hops.items() if hop.received]
        end = self.distance or min(max(answered, default=0), self.last_ttl)
        return [self.hop(ttl) for ttl in range(1, end + 1)]


# --- probing ----------------------------------------------------------------------------------------


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    try:
        address = await resolve(ctx.target, params.ipv6)
    except socket.gaierror as exc:
        return CheckResult.down("error", resolution_message(ctx.target, exc))
    trace = Trace(address)
    with AsyncSocket(raw_socket(address)) as sock:
        try:
            await _probe(sock, trace, answer_budget(ctx))
        except OSError as exc:  # the raw socket failed while receiving
            return CheckResult.down("error", f"Error: {os_reason(exc)}")
    return _evaluate(trace, ctx.threshold)


async def _probe(sock: Any, trace: Trace, budget: float) -> None:
    loop = asyncio.get_running_loop()
    ipv6 = is_ipv6(trace.address)
    payload_size = PACKET_SIZE - (40 if ipv6 else 20) - 8
    ident = icmp_identifier()
    first_sequence = int.from_bytes(os.urandom(2))
    payload = os.urandom(payload_size)
    target = ipaddress.ip_address(trace.address)
    pending: dict[int, tuple[int, float]] = {}  # sequence -> (ttl, sent at)
    # All rounds within 80% of the budget: the trace must end well before the runner's timeout.
    round_wait = min(ROUND_WAIT, 0.8 * budget / PROBES_PER_HOP)
    async with _Receiver(sock.sock) as receiver:
        for round_number in range(PROBES_PER_HOP):
            deadline = loop.time() + round_wait
            waiting: set[int] = set()
            for ttl in range(1, trace.horizon + 1):
                sequence = (first_sequence + round_number * 256 + ttl) & 0xFFFF
                request = ICMPRequest(trace.address, ident, sequence, payload=payload, ttl=ttl)
                trace.hop(ttl).sent += 1
                try:
                    sock.send(request)
                except ICMPLibError as exc:  # e.g. no route to the target: this probe is lost
                    if str(exc) not in trace.errors:
                        trace.errors.append(str(exc))
                    continue
                pending[sequence] = (ttl, time.perf_counter())
                waiting.add(sequence)
            while _outstanding(waiting, pending, trace.horizon):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    packet, source, received_at = await asyncio.wait_for(receiver.get(), remaining)
                except TimeoutError:
                    break
                answer = parse_answer(packet, ipv6)
                if (
                    answer is None
                    or answer.sequence not in pending
                    or not is_ours(answer, ipaddress.ip_address(source), target, ident, payload)
                ):
                    continue
                ttl, sent_at = pending.pop(answer.sequence)
                trace.record(ttl, answer, source, (received_at - sent_at) * 1000)


class _Receiver:
    """Everything the raw socket receives, read as soon as it is readable and timestamped then
    (``time.perf_counter``: uvloop's ``loop.time()`` has millisecond resolution).

    ``loop.add_reader`` rather than ``loop.sock_recvfrom``: uvloop (used by ``vedette serve``) does not
    implement the latter, and a reader that drains the socket gives the receive time of each packet.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._packets: asyncio.Queue[tuple[bytes, str, float] | OSError] = asyncio.Queue()

    def _readable(self) -> None:
        while True:
            try:
                packet, source = self._sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._loop.remove_reader(self._sock.fileno())
                self._packets.put_nowait(exc)
                return
            self._packets.put_nowait((packet, str(source[0]), time.perf_counter()))

    async def get(self) -> tuple[bytes, str, float]:
        item = await self._packets.get()
        if isinstance(item, OSError):
            raise item
        return item

    async def __aenter__(self) -> _Receiver:
        self._loop.add_reader(self._sock.fileno(), self._readable)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._loop.remove_reader(self._sock.fileno())


def _outstanding(waiting: set[int], pending: dict[int, tuple[int, float]], horizon: int) -> bool:
    """Whether a probe of this round up to the target hop still waits for its answer."""
    return any(sequence in pending and pending[sequence][0] <= horizon for sequence in waiting)


def _evaluate(trace: Trace, threshold: int) -> CheckResult:
    details: dict[str, Any] = {
        "address": trace.address,
        "hops": [hop.summary() for hop in trace.listed_hops()],
    }
    if trace.errors:
        details["errors"] = trace.errors
    if trace.distance is None:
        return CheckResult.down(
            "Unreachable: 100%", f"Unable to reach host at {trace.address}", value=100, details=details
        )
    target = trace.hop(trace.distance)
    loss = int(target.loss)
    code = f"Packet loss:{loss}%"
    fields = target.fieldtracking(loss)
    if loss > threshold:
        return CheckResult.down(
            code,
            f"Packet loss {loss}% greater than configured threshold of {threshold}%",
            value=loss,
            fieldtracking=fields,
            details=details,
        )
    return CheckResult.up(code, trace.address, value=loss, fieldtracking=fields, details=details)
