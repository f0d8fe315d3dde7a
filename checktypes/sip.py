"""SIP: an OPTIONS request over UDP, TCP or TLS (WebSocket transports are refused); a reply below 500 passes.

Target: ``host`` or ``host:port`` (``[v6]:port``); the port defaults to 5060 (5061 for TLS).

On the wire (RFC 3261): ``OPTIONS sip:999@<target> SIP/2.0`` (``sips:`` for TLS) with a Via naming the
socket's real local address and port plus ``;rport`` (stateless servers such as kamailio answer to the Via),
a ``z9hG4bK`` branch, a From tag, Call-ID, ``CSeq: 1 OPTIONS``, ``Max-Forwards: 70`` and
``Content-Length: 0``. Provisional (1xx) replies are skipped; the first final reply whose Via branch and
Call-ID are ours is evaluated.

Pass / fail: status < 500 → pass, ``sc`` = the status code, ``m`` = the reason phrase. Status >= 500 → fail
(``m`` = the reason, ``"Unknown error"`` when there is none) unless the code is listed in ``ignore``. Bytes
that are not a SIP response → fail ``sc = "Invalid"``. Refused, reset, TLS errors → ``sc = "error"``,
``m = "Error: <reason>"``. TLS certificates are not verified (the type has no ``verify`` field, and
self-signed certificates are the norm on SIP servers); a failed handshake still fails.
WebSocket transports (``ws``, ``wss``) are accepted by the API but not runnable: a config error says so.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, field_validator

from checktypes._endpoint import DatagramChannel, format_host, split_host_port
from checktypes._net import open_connection, os_reason, resolution_message
from checktypes._tls import client_context
from prober.base import CheckContext, CheckParams, CheckResult, ConfigError, StrIsh, coerce_bool

NAME = "SIP"

SIP_PORT = 5060
SIPS_PORT = 5061
MAX_MESSAGE_BYTES = 65536


def _transport(value: Any) -> Any:
    # nodeping-api sends ``transport: False`` for "the default".
    if coerce_bool(value) is False:
        return "udp"
    return value.strip().lower() if isinstance(value, str) else value


class Params(CheckParams):
    transport: Annotated[Literal["udp", "tcp", "tls", "ws", "wss"], BeforeValidator(_transport)] = "udp"
    ignore: StrIsh | None = None
    """Comma-separated response codes (>= 500) to treat as success."""

    @field_validator("ignore")
    @classmethod
    def _codes(cls, value: str | None) -> str | None:
        if value is None:
            return None
        codes = [part.strip() for part in value.split(",") if part.strip()]
        for code in codes:
            if not (code.isdigit() and 100 <= int(code) <= 699):
                raise ValueError(f"{code!r} is not a SIP response code")
        return ",".join(codes) or None

    @classmethod
    def check_target(cls, target: str) -> str:
        split_host_port(target, SIP_PORT)  # ValueError names the bad part
        return target


class InvalidResponse(Exception):
    """The server sent something that is not a SIP response."""


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    """First value of each header, names lower-cased, compact forms expanded."""


_COMPACT = {"v": "via", "i": "call-id", "l": "content-length", "f": "from", "t": "to", "m": "contact"}
_STATUS_LINE = re.compile(r"^SIP/2\.0 (\d{3})(?: (.*))?$")
_BRANCH = re.compile(r";\s*branch=([^;,\s]+)", re.IGNORECASE)


def parse_response(data: bytes) -> Response:
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.decode("utf-8", "replace").split("\r\n")
    match = _STATUS_LINE.match(lines[0].strip())
    if match is None:
        raise InvalidResponse(f"Invalid SIP response: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        headers.setdefault(_COMPACT.get(key, key), value.strip())
    return Response(int(match.group(1)), (match.group(2) or "").strip(), headers)


@dataclass(frozen=True)
class Request:
    data: bytes
    branch: str
    call_id: str


def build_request(
    transport: str, host: str, port: int | None, local: tuple[str, int], user_agent: str
) -> Request:
    scheme = "sips" if transport == "tls" else "sip"
    where = format_host(host) + (f":{port}" if port else "")
    local_host = format_host(local[0])
    branch = "z9hG4bK" + secrets.token_hex(10)
    call_id = f"{secrets.token_hex(12)}@{local_host}"
    lines = [
        f"OPTIONS {scheme}:999@{where} SIP/2.0",
        f"Via: SIP/2.0/{transport.upper()} {local_host}:{local[1]};rport;branch={branch}",
        "Max-Forwards: 70",
        f"From: <{scheme}:vedette@{local_host}>;tag={secrets.token_hex(6)}",
        f"To: <{scheme}:999@{where}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 OPTIONS",
        f"Contact: <{scheme}:vedette@{local_host}:{local[1]};transport={transport}>",
        "Accept: application/sdp",
        f"User-Agent: {user_agent}",
        "Content-Length: 0",
        "",
        "",
    ]
    return Request("\r\n".join(lines).encode(), branch, call_id)


def _is_final_answer(response: Response, request: Request) -> bool:
    branch = _BRANCH.search(response.headers.get("via", ""))
    ours = branch is not None and branch.group(1) == request.branch
    return ours and response.headers.get("call-id") == request.call_id and response.status >= 200


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    if params.transport in ("ws", "wss"):
        raise ConfigError("SIP over WebSocket (ws, wss) is not supported: use udp, tcp or tls")
    default_port = SIPS_PORT if params.transport == "tls" else SIP_PORT
    try:
        host, port = split_host_port(ctx.target, default_port)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    uri_port = port if port != default_port else None
    try:
        if params.transport == "udp":
            response, server = await _over_udp(host, port, uri_port, ctx)
        else:
            response, server = await _over_stream(params.transport, host, port, uri_port, ctx)
    except socket.gaierror as exc:
        return CheckResult.down("error", resolution_message(host, exc))
    except InvalidResponse as exc:
        return CheckResult.down("Invalid", str(exc))
    except asyncio.IncompleteReadError:
        return CheckResult.down("error", "Error: Connection closed by the server")
    except OSError as exc:
        return CheckResult.down("error", f"Error: {os_reason(exc)}")
    return _evaluate(response, params, {"transport": params.transport, "server": server})


def _evaluate(response: Response, params: Params, details: dict[str, Any]) -> CheckResult:
    details["status"] = response.status
    agent = response.headers.get("server") or response.headers.get("user-agent")
    if agent:
        details["server_agent"] = agent
    if response.status < 500:
        return CheckResult.up(response.status, response.reason or str(response.status), details=details)
    message = response.reason or "Unknown error"
    if str(response.status) in (params.ignore or "").split(","):
        return CheckResult.up(response.status, message, details=details)
    return CheckResult.down(response.status, message, details=details)


async def _over_udp(host: str, port: int, uri_port: int | None, ctx: CheckContext) -> tuple[Response, str]:
    async with await DatagramChannel.open(host, port) as channel:
        request = build_request("udp", host, uri_port, channel.local_address, ctx.user_agent)
        channel.send(request.data)
        while True:
            response = parse_response(await channel.receive())
            if _is_final_answer(response, request):
                return response, _address(channel.remote_address)


async def _over_stream(
    transport: str, host: str, port: int, uri_port: int | None, ctx: CheckContext
) -> tuple[Response, str]:
    tls = client_context(verify=False) if transport == "tls" else None
    reader, writer = await open_connection(
        host, port, ssl_context=tls, server_hostname=host, limit=MAX_MESSAGE_BYTES
    )
    try:
        sockname = writer.get_extra_info("sockname")
        request = build_request(transport, host, uri_port, (sockname[0], sockname[1]), ctx.user_agent)
        writer.write(request.data)
        await writer.drain()
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                raise InvalidResponse("Invalid SIP response: no end of headers") from None
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    parse_response(exc.partial)  # InvalidResponse when it is not SIP at all
                raise
            response = parse_response(head)
            length = response.headers.get("content-length", "0")
            if length.isdigit() and int(length) > 0:
                await reader.readexactly(min(int(length), MAX_MESSAGE_BYTES))
            if _is_final_answer(response, request):
                return response, _address(writer.get_extra_info("peername"))
    finally:
        writer.close()


def _address(peer: Any) -> str:
    return f"{format_host(str(peer[0]))}:{peer[1]}"
