"""NTP: one SNTP request over UDP; a time reply passes (inverted: must not answer).

On the wire (RFC 4330 / RFC 5905): a 48-byte client packet (LI 0, version 4, mode 3) whose transmit
timestamp is our clock; the reply must be a server packet (mode 4) that echoes that timestamp as its
originate timestamp. offset = ((T2 - T1) + (T3 - T4)) / 2, delay = (T4 - T1) - (T3 - T2).

Pass / fail:
- a valid reply with |offset| <= ``threshold`` seconds → pass ``sc = "Received"``,
  ``m = "<server time, ISO 8601> (offset +0.000123 s)"``. ``threshold`` is both the timeout and the offset
  limit (the spec only says "fail on no answer or offset beyond threshold"; one number serves both, so a
  server whose clock is off by more seconds than the check may wait is reported);
- |offset| > ``threshold`` → fail ``sc = "Offset"``;
- kiss-o'-death (stratum 0) → fail ``sc = "Kiss-o'-Death"`` with the kiss code (``RATE``, ``DENY``, ...);
- an unsynchronised server (leap indicator 3 or stratum >= 16) → fail ``sc = "Unsynchronized"``;
- anything that is not an answer to our request → fail ``sc = "Invalid"``;
- no answer within the timeout → fail ``sc = "Timeout"``; ICMP port unreachable → ``sc = "error"``,
  ``m = "Error: Connection refused"``.
``invert`` swaps pass and fail for every outcome, so the plugin reports "no answer" itself (slightly
before the runner's timeout) to let an inverted check pass on silence.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from checktypes._endpoint import DatagramChannel, answer_budget
from checktypes._net import os_reason, resolution_message
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, Port

NAME = "NTP"

NTP_EPOCH_OFFSET = 2_208_988_800
"""Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch)."""

_PACKET = struct.Struct("!BBbbII4sQQQQ")
_CLIENT_FIRST_BYTE = (0 << 6) | (4 << 3) | 3  # LI 0 (no warning), VN 4, mode 3 (client) = 0x23
_MODE_SERVER = 4
_LEAP_ALARM = 3


class Params(CheckParams):
    port: Port = 123
    invert: BoolIsh = False


class InvalidReply(Exception):
    """The datagram is not a server's answer to our request."""


@dataclass(frozen=True)
class NtpReply:
    leap: int
    version: int
    mode: int
    stratum: int
    poll: int
    precision: int
    root_delay: float
    root_dispersion: float
    reference_id: bytes
    originate: int
    receive: float
    transmit: float


def to_ntp(unix_time: float) -> int:
    """Unix seconds -> 64-bit NTP timestamp (32.32 fixed point)."""
    seconds = unix_time + NTP_EPOCH_OFFSET
    whole = int(seconds)
    return (whole << 32) | int((seconds - whole) * 2**32)


def from_ntp(timestamp: int) -> float:
    """64-bit NTP timestamp -> Unix seconds."""
    return (timestamp >> 32) - NTP_EPOCH_OFFSET + (timestamp & 0xFFFFFFFF) / 2**32


def client_packet(transmit: int) -> bytes:
    """A 48-byte SNTP client request carrying ``transmit`` as its transmit timestamp."""
    return _PACKET.pack(_CLIENT_FIRST_BYTE, 0, 0, 0, 0, 0, b"\0\0\0\0", 0, 0, 0, transmit)


def parse_reply(data: bytes, sent_transmit: int) -> NtpReply:
    if len(data) < _PACKET.size:
        raise InvalidReply(f"{len(data)} bytes, an NTP packet has at least {_PACKET.size}")
    first, stratum, poll, precision, delay, dispersion, refid, _ref, orig, recv, xmit = _PACKET.unpack_from(
        data
    )
    mode = first & 0x7
    if mode != _MODE_SERVER:
        raise InvalidReply(f"mode {mode}, expected {_MODE_SERVER} (server)")
    if orig != sent_transmit:
        raise InvalidReply("originate timestamp does not match the request")
    if xmit == 0:
        raise InvalidReply("transmit timestamp is zero")
    return NtpReply(
        leap=first >> 6,
        version=(first >> 3) & 0x7,
        mode=mode,
        stratum=stratum,
        poll=poll,
        precision=precision,
        root_delay=delay / 2**16,
        root_dispersion=dispersion / 2**16,
        reference_id=refid,
        originate=orig,
        receive=from_ntp(recv),
        transmit=from_ntp(xmit),
    )


def _kiss_code(reference_id: bytes) -> str:
    return reference_id.decode("ascii", "replace").strip("\0 ") or "?"


def _reference(reply: NtpReply) -> str:
    if reply.stratum <= 1:
        return _kiss_code(reply.reference_id)
    return socket.inet_ntoa(reply.reference_id)


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    return (await _query(params, ctx)).inverted(params.invert)


async def _query(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    budget = answer_budget(ctx)
    try:
        channel = await DatagramChannel.open(ctx.target, params.port)
    except socket.gaierror as exc:
        return CheckResult.down("error", resolution_message(ctx.target, exc))
    except OSError as exc:
        return CheckResult.down("error", f"Error: {os_reason(exc)}")
    async with channel:
        # Our clock in the transmit timestamp (the offset needs it), its lowest 16 bits (~15 us) random so
        # that a reply to someone else's request cannot match ours (RFC 4330 §3).
        transmit = (to_ntp(time.time()) & ~0xFFFF) | int.from_bytes(os.urandom(2))
        sent_at = from_ntp(transmit)
        channel.send(client_packet(transmit))
        try:
            async with asyncio.timeout(budget):
                data = await channel.receive()
        except TimeoutError:
            return CheckResult.down("Timeout", "Timeout")
        except OSError as exc:
            return CheckResult.down("error", f"Error: {os_reason(exc)}")
        received_at = time.time()
        server = channel.remote_address[0]
    try:
        reply = parse_reply(data, transmit)
    except InvalidReply as exc:
        return CheckResult.down("Invalid", f"Invalid NTP reply: {exc}", details={"server": server})
    return _evaluate(reply, sent_at, received_at, server, ctx.threshold)


def _evaluate(reply: NtpReply, t1: float, t4: float, server: str, threshold: int) -> CheckResult:
    t2, t3 = reply.receive, reply.transmit
    offset = ((t2 - t1) + (t3 - t4)) / 2
    delay = (t4 - t1) - (t3 - t2)
    details: dict[str, Any] = {
        "server": server,
        "offset": round(offset, 6),
        "delay": round(delay, 6),
        "stratum": reply.stratum,
        "leap": reply.leap,
        "version": reply.version,
        "reference": _reference(reply),
        "root_delay": round(reply.root_delay, 6),
        "root_dispersion": round(reply.root_dispersion, 6),
        "server_time": datetime.fromtimestamp(t3, UTC).isoformat(),
    }
    if reply.stratum == 0:
        code = _kiss_code(reply.reference_id)
        return CheckResult.down("Kiss-o'-Death", f"Kiss-o'-Death from the server: {code}", details=details)
    if reply.leap == _LEAP_ALARM or reply.stratum >= 16:
        return CheckResult.down(
            "Unsynchronized",
            f"Server clock is not synchronized (stratum {reply.stratum}, leap indicator {reply.leap})",
            details=details,
        )
    if abs(offset) > threshold:
        return CheckResult.down(
            "Offset",
            f"Clock offset {offset:+.3f} s is beyond the threshold of {threshold} s",
            details=details,
        )
    return CheckResult.up("Received", f"{details['server_time']} (offset {offset:+.6f} s)", details=details)
