"""SIP against a real kamailio (Debian package kamailio; UDP and TCP) and minimal in-process SIP responders
(asyncio UDP/TCP/TLS servers that answer from the request's own headers) for TLS, 5xx and broken replies."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
import pytest_asyncio
import trustme
from pydantic import ValidationError

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message

Answer = Callable[[bytes], list[bytes]]
"""What a responder sends back for one request."""


@pytest.fixture(scope="module")
def sip() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.sip"]).get("SIP")


async def check(sip: CheckType, target: str, seconds: float = 3.0, **params: Any) -> CheckResult:
    ctx = CheckContext(target=target, threshold=max(int(seconds), 1), timeout=seconds)
    return await run_check(sip, params, ctx)


def headers_of(request: bytes) -> dict[str, str]:
    lines = request.split(b"\r\n\r\n")[0].decode().split("\r\n")
    return {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}


def reply(status: str, *, branch: str | None = None, call_id: str | None = None) -> Answer:
    """An answer with ``status`` ("200 OK") echoing Via/From/To/Call-ID/CSeq (optionally tampered)."""

    def answer(request: bytes) -> list[bytes]:
        h = headers_of(request)
        via = h["via"] if branch is None else h["via"].split(";branch=")[0] + f";branch={branch}"
        lines = [
            f"SIP/2.0 {status}",
            f"Via: {via}",
            f"From: {h['from']}",
            f"To: {h['to']};tag=resp",
            f"Call-ID: {call_id or h['call-id']}",
            f"CSeq: {h['cseq']}",
            "Server: test-responder",
            "Content-Length: 0",
            "",
            "",
        ]
        return ["\r\n".join(lines).encode()]

    return answer


def sequence(*answers: Answer) -> Answer:
    return lambda request: [data for answer in answers for data in answer(request)]


# --- in-process responders ------------------------------------------------------------------------


class UdpResponder(asyncio.DatagramProtocol):
    def __init__(self, answer: Answer, requests: list[bytes]) -> None:
        self.answer = answer
        self.requests = requests
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.requests.append(data)
        assert self.transport is not None
        for datagram in self.answer(data):
            self.transport.sendto(datagram, addr)


@pytest.fixture(scope="module")
def server_tls() -> tuple[ssl.SSLContext, trustme.CA]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("sip.test", "127.0.0.1").configure_cert(context)
    return context, ca


Start = Callable[..., Awaitable[int]]


@pytest_asyncio.fixture(loop_scope="function")
async def responder() -> AsyncIterator[Start]:
    """``await responder(answer, transport="udp"|"tcp", tls=ctx, requests=[...])`` -> port on 127.0.0.1."""
    closers: list[Callable[[], Any]] = []
    loop = asyncio.get_running_loop()

    async def start(
        answer: Answer,
        transport: str = "udp",
        tls: ssl.SSLContext | None = None,
        requests: list[bytes] | None = None,
    ) -> int:
        seen = requests if requests is not None else []
        if transport == "udp":
            udp, _ = await loop.create_datagram_endpoint(
                lambda: UdpResponder(answer, seen), local_addr=("127.0.0.1", 0)
            )
            closers.append(udp.close)
            port: int = udp.get_extra_info("sockname")[1]
            return port

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                request = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                return
            seen.append(request)
            for data in answer(request):
                writer.write(data)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
        closers.append(server.close)
        port = server.sockets[0].getsockname()[1]
        return port

    yield start
    for close in closers:
        close()


# --- kamailio (UDP and TCP) -----------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_kamailio_answers_options(sip: CheckType, kamailio_port: int, transport: str) -> None:
    result = await check(sip, f"127.0.0.1:{kamailio_port}", transport=transport)
    assert (result.status, result.code, result.message) == ("up", 200, "OK")
    assert result.details is not None
    assert result.details["transport"] == transport
    assert result.details["server"] == f"127.0.0.1:{kamailio_port}"


async def test_kamailio_by_host_name(sip: CheckType, kamailio_port: int) -> None:
    result = await check(sip, f"localhost:{kamailio_port}", transport=False)
    assert (result.status, result.code) == ("up", 200)


# --- the request on the wire ----------------------------------------------------------------------


async def test_request_headers(sip: CheckType, responder: Start) -> None:
    requests: list[bytes] = []
    port = await responder(reply("200 OK"), requests=requests)
    result = await check(sip, f"127.0.0.1:{port}")
    assert result.status == "up"
    (request,) = requests
    first_line, _, _ = request.partition(b"\r\n")
    assert first_line == f"OPTIONS sip:999@127.0.0.1:{port} SIP/2.0".encode()
    h = headers_of(request)
    assert h["via"].startswith("SIP/2.0/UDP 127.0.0.1:")
    assert ";rport;branch=z9hG4bK" in h["via"]
    assert ";tag=" in h["from"]
    assert h["cseq"] == "1 OPTIONS"
    assert h["max-forwards"] == "70"
    assert h["content-length"] == "0"
    assert h["call-id"]
    assert request.endswith(b"\r\n\r\n")


# --- responses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "ignore", "expected"),
    [
        ("486 Busy Here", None, ("up", 486, "Busy Here")),
        ("404 Not Found", None, ("up", 404, "Not Found")),
        ("503 Service Unavailable", None, ("down", 503, "Service Unavailable")),
        ("503 Service Unavailable", "500,503", ("up", 503, "Service Unavailable")),
        ("500", "503", ("down", 500, "Unknown error")),
        ("604 Does Not Exist Anywhere", None, ("down", 604, "Does Not Exist Anywhere")),
    ],
)
async def test_status_codes(
    sip: CheckType, responder: Start, status: str, ignore: str | None, expected: tuple[str, int, str]
) -> None:
    port = await responder(reply(status))
    params: dict[str, Any] = {"ignore": ignore} if ignore else {}
    result = await check(sip, f"127.0.0.1:{port}", **params)
    assert (result.status, result.code, result.message) == expected


async def test_provisional_and_foreign_replies_are_skipped(sip: CheckType, responder: Start) -> None:
    answer = sequence(
        reply("100 Trying"),
        reply("200 Someone Else", branch="z9hG4bKother"),
        reply("200 Other Call", call_id="other@127.0.0.1"),
        reply("503 Service Unavailable"),
    )
    port = await responder(answer)
    result = await check(sip, f"127.0.0.1:{port}")
    assert (result.status, result.code, result.message) == ("down", 503, "Service Unavailable")
    assert result.details is not None and result.details["server_agent"] == "test-responder"


async def test_503_over_tcp(sip: CheckType, responder: Start) -> None:
    port = await responder(sequence(reply("100 Trying"), reply("503 Service Unavailable")), transport="tcp")
    result = await check(sip, f"127.0.0.1:{port}", transport="tcp")
    assert (result.status, result.code, result.message) == ("down", 503, "Service Unavailable")


async def test_tls(sip: CheckType, responder: Start, server_tls: tuple[ssl.SSLContext, trustme.CA]) -> None:
    requests: list[bytes] = []
    port = await responder(reply("200 OK"), transport="tcp", tls=server_tls[0], requests=requests)
    result = await check(sip, f"127.0.0.1:{port}", transport="tls")
    assert (result.status, result.code, result.message) == ("up", 200, "OK")
    assert requests[0].startswith(f"OPTIONS sips:999@127.0.0.1:{port} SIP/2.0\r\n".encode())
    assert headers_of(requests[0])["via"].startswith("SIP/2.0/TLS 127.0.0.1:")


async def test_tls_against_a_plain_server(sip: CheckType) -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the ClientHello: answer it in plain text
        writer.write(b"SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async with await asyncio.start_server(plain, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        result = await check(sip, f"127.0.0.1:{port}", transport="tls")
    assert (result.status, result.code, result.message) == ("down", "error", "Error: WRONG_VERSION_NUMBER")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_garbage_reply(sip: CheckType, responder: Start, transport: str) -> None:
    port = await responder(lambda request: [b"HTTP/1.1 400 Bad Request\r\n\r\n"], transport=transport)
    result = await check(sip, f"127.0.0.1:{port}", transport=transport)
    assert (result.status, result.code, result.message) == (
        "down",
        "Invalid",
        "Invalid SIP response: 'HTTP/1.1 400 Bad Request'",
    )


async def test_tcp_closed_without_reply(sip: CheckType, responder: Start) -> None:
    port = await responder(lambda request: [], transport="tcp")
    result = await check(sip, f"127.0.0.1:{port}", transport="tcp")
    assert (result.status, result.code, result.message) == (
        "down",
        "error",
        "Error: Connection closed by the server",
    )


# --- refused / no answer ----------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
async def test_refused(sip: CheckType, closed_port: int, transport: str) -> None:
    result = await check(sip, f"127.0.0.1:{closed_port}", transport=transport)
    assert (result.status, result.code, result.message) == ("down", "error", "Error: Connection refused")


async def test_no_answer_times_out(sip: CheckType, responder: Start) -> None:
    port = await responder(lambda request: [])
    result = await check(sip, f"127.0.0.1:{port}", seconds=0.5)
    assert (result.status, result.code, result.message) == ("down", "Timeout", "Timeout")


async def test_only_provisional_times_out(sip: CheckType, responder: Start) -> None:
    port = await responder(reply("180 Ringing"))
    result = await check(sip, f"127.0.0.1:{port}", seconds=0.5)
    assert (result.status, result.code) == ("down", "Timeout")


async def test_unresolvable_host(sip: CheckType) -> None:
    result = await check(sip, "no-such-host.invalid")
    assert (result.status, result.code) == ("down", "error")
    assert "no-such-host.invalid" in result.message


# --- config errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "params", "message"),
    [
        ("", {}, "Missing target"),
        (
            "127.0.0.1",
            {"transport": "ws"},
            "SIP over WebSocket (ws, wss) is not supported: use udp, tcp or tls",
        ),
        (
            "127.0.0.1",
            {"transport": "wss"},
            "SIP over WebSocket (ws, wss) is not supported: use udp, tcp or tls",
        ),
        ("127.0.0.1:sip", {}, "Invalid port 'sip' in '127.0.0.1:sip'"),
    ],
)
async def test_config_errors(sip: CheckType, target: str, params: dict[str, Any], message: str) -> None:
    result = await check(sip, target, **params)
    assert (result.status, result.message, result.config_error) == ("down", message, True)


# --- parameters and target ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"transport": "udp", "ignore": None}),
        ({"transport": False}, {"transport": "udp", "ignore": None}),
        ({"transport": " TCP ", "ignore": "503, 504"}, {"transport": "tcp", "ignore": "503,504"}),
        ({"transport": "tls", "ignore": 503}, {"transport": "tls", "ignore": "503"}),
        ({"ignore": ""}, {"transport": "udp", "ignore": None}),
    ],
)
def test_valid_params(sip: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sip.params.model_validate(params).model_dump() == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"transport": "sctp"}, "transport: Input should be 'udp', 'tcp', 'tls', 'ws' or 'wss'"),
        ({"ignore": "busy"}, "ignore: Value error, 'busy' is not a SIP response code"),
        ({"ignore": "503,700"}, "ignore: Value error, '700' is not a SIP response code"),
        ({"port": 5060}, "port: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(sip: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        sip.params.model_validate(params)
    assert validation_message(excinfo.value) == message


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("sip.example.test", None),
        ("sip.example.test:5080", None),
        ("[2001:db8::5]:5061", None),
        ("2001:db8::5", None),
        ("sip.example.test:0", "Invalid port '0' in 'sip.example.test:0'"),
        ("[2001:db8::5", "Invalid address '[2001:db8::5': missing ']'"),
    ],
)
def test_check_target(sip: CheckType, target: str, message: str | None) -> None:
    if message is None:
        assert sip.params.check_target(target) == target
    else:
        with pytest.raises(ValueError) as excinfo:
            sip.params.check_target(target)
        assert str(excinfo.value) == message
