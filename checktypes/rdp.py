"""RDP: an X.224 connection request to port 3389 of the target; a Connection Confirm passes.

Target: ``host`` (port 3389, as NodePing) or ``host:port`` / ``[v6]:port`` (a Vedette extension: RDP servers
on other ports, and tests on a free port).

On the wire ([MS-RDPBCGR] 2.2.1.1 / 2.2.1.2): a TPKT header, an X.224 Connection Request TPDU and an
RDP_NEG_REQ asking for TLS or CredSSP; then one TPKT carrying the server's X.224 Connection Confirm. The
spec accepts a plain TCP connect; requiring the confirm tells an RDP server from any open port.

Pass / fail:
- a Connection Confirm with RDP_NEG_RSP → pass ``sc = "Connected"``, details name the selected protocol;
  with RDP_NEG_FAILURE (e.g. the server insists on another security protocol) it is still an RDP server
  answering → pass, details carry the failure code; a bare confirm (legacy RDP security) → pass.
- anything else → fail ``sc = "error"``: ``Error: Not an RDP server (...)``, ``Error: Connection closed by the
  server``, ``Error: Connection refused``; no answer → ``sc = "Timeout"`` (runner).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from checktypes._endpoint import split_host_port
from checktypes._net import open_connection, os_reason, resolution_message
from prober.base import CheckContext, CheckParams, CheckResult, ConfigError

NAME = "RDP"

RDP_PORT = 3389

PROTOCOL_RDP, PROTOCOL_SSL, PROTOCOL_HYBRID, PROTOCOL_RDSTLS, PROTOCOL_HYBRID_EX = 0, 1, 2, 4, 8
_PROTOCOLS = {
    PROTOCOL_RDP: "RDP",
    PROTOCOL_SSL: "TLS",
    PROTOCOL_HYBRID: "CredSSP",
    PROTOCOL_RDSTLS: "RDSTLS",
    PROTOCOL_HYBRID_EX: "CredSSP (early user authorization)",
}
_FAILURES = {
    1: "SSL_REQUIRED_BY_SERVER",
    2: "SSL_NOT_ALLOWED_BY_SERVER",
    3: "SSL_CERT_NOT_ON_SERVER",
    4: "INCONSISTENT_FLAGS",
    5: "HYBRID_REQUIRED_BY_SERVER",
    6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
}
_TYPE_NEG_RSP, _TYPE_NEG_FAILURE = 0x02, 0x03
_X224_CR, _X224_CC = 0xE0, 0xD0


class Params(CheckParams):
    @classmethod
    def check_target(cls, target: str) -> str:
        split_host_port(target, RDP_PORT)  # ValueError names the bad part
        return target


class NotRdp(Exception):
    """The reply is not an X.224 Connection Confirm."""


def connection_request(requested: int = PROTOCOL_SSL | PROTOCOL_HYBRID) -> bytes:
    """TPKT + X.224 CR (class 0) + RDP_NEG_REQ."""
    negotiation = struct.pack("<BBHI", 0x01, 0, 8, requested)
    x224 = bytes([6 + len(negotiation), _X224_CR, 0, 0, 0, 0, 0]) + negotiation
    return struct.pack("!BBH", 3, 0, 4 + len(x224)) + x224


def parse_confirm(tpkt: bytes) -> dict[str, Any]:
    """Details of a Connection Confirm TPKT, or ``NotRdp``."""
    x224 = tpkt[4:]
    if len(x224) < 7 or x224[1] & 0xF0 != _X224_CC:
        raise NotRdp("no X.224 Connection Confirm")
    negotiation = x224[7 : 1 + x224[0]]
    if len(negotiation) < 8:
        return {"negotiation": "none", "selected_protocol": "RDP"}
    kind, _flags, _length, value = struct.unpack_from("<BBHI", negotiation)
    if kind == _TYPE_NEG_RSP:
        return {"negotiation": "response", "selected_protocol": _PROTOCOLS.get(value, f"0x{value:x}")}
    if kind == _TYPE_NEG_FAILURE:
        return {"negotiation": "failure", "failure_code": _FAILURES.get(value, f"0x{value:x}")}
    raise NotRdp(f"unknown negotiation type 0x{kind:02x}")


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    try:
        host, port = split_host_port(ctx.target, RDP_PORT)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        reader, writer = await open_connection(host, port)
    except socket.gaierror as exc:
        return CheckResult.down("error", resolution_message(host, exc))
    except OSError as exc:
        return CheckResult.down("error", f"Error: {os_reason(exc)}")
    peer = writer.get_extra_info("peername")
    try:
        writer.write(connection_request())
        await writer.drain()
        header = await reader.readexactly(4)
        version, _reserved, length = struct.unpack("!BBH", header)
        if version != 3 or not 11 <= length <= 1024:
            raise NotRdp(f"no TPKT header: {header.hex()}")
        details = parse_confirm(header + await reader.readexactly(length - 4))
    except NotRdp as exc:
        return CheckResult.down("error", f"Error: Not an RDP server ({exc})")
    except asyncio.IncompleteReadError:
        return CheckResult.down("error", "Error: Connection closed by the server")
    except OSError as exc:
        return CheckResult.down("error", f"Error: {os_reason(exc)}")
    finally:
        writer.close()
    details["address"] = peer[0] if peer else host
    if details["negotiation"] == "failure":
        message = f"RDP server answered: negotiation failure {details['failure_code']}"
    else:
        message = f"RDP server answered: {details['selected_protocol']} selected"
    return CheckResult.up("Connected", message, details=details)
