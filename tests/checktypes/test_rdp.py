"""RDP against a real xrdp (Debian package xrdp) and in-process TCP listeners that answer like an RDP server
insisting on another protocol, close at once, send garbage, or never answer."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pydantic import ValidationError

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message

CONNECTION_REQUEST = bytes.fromhex("030000130ee000000000000100080003000000")
"""TPKT + X.224 CR + RDP_NEG_REQ(TLS | CredSSP): what the check must send."""


@pytest.fixture(scope="module")
def rdp() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.rdp"]).get("RDP")


async def check(rdp: CheckType, target: str, seconds: float = 3.0) -> CheckResult:
    ctx = CheckContext(target=target, threshold=max(int(seconds), 1), timeout=seconds)
    return await run_check(rdp, {}, ctx)


def confirm(negotiation: bytes = b"") -> bytes:
    x224 = bytes([6 + len(negotiation), 0xD0, 0, 0, 0x12, 0x34, 0]) + negotiation
    return struct.pack("!BBH", 3, 0, 4 + len(x224)) + x224


class Listeners:
    """In-process TCP listeners on 127.0.0.1: each reads the request, sends its answer and closes."""

    def __init__(self) -> None:
        self.servers: list[asyncio.Server] = []
        self.held: list[asyncio.StreamWriter] = []
        self.requests: list[bytes] = []

    async def start(self, answer: bytes | None) -> int:
        """A listener answering ``answer`` (None: hold the connection open, never answer); its port."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                self.requests.append(await reader.readexactly(len(CONNECTION_REQUEST)))
            except asyncio.IncompleteReadError:
                pass
            if answer is None:
                self.held.append(writer)
                return
            writer.write(answer)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    def close(self) -> None:
        for writer in self.held:
            writer.close()
        for server in self.servers:
            server.close()


@pytest_asyncio.fixture(loop_scope="function")
async def listeners() -> AsyncIterator[Listeners]:
    found = Listeners()
    yield found
    found.close()


# --- xrdp ------------------------------------------------------------------------------------------


async def test_xrdp_confirms_with_tls(rdp: CheckType, xrdp_port: int) -> None:
    result = await check(rdp, f"127.0.0.1:{xrdp_port}")
    assert (result.status, result.code, result.message) == (
        "up",
        "Connected",
        "RDP server answered: TLS selected",
    )
    assert result.details == {"negotiation": "response", "selected_protocol": "TLS", "address": "127.0.0.1"}


async def test_xrdp_by_host_name(rdp: CheckType, xrdp_port: int) -> None:
    result = await check(rdp, f"localhost:{xrdp_port}")
    assert (result.status, result.code) == ("up", "Connected")


# --- answers of other servers -----------------------------------------------------------------------


async def test_request_on_the_wire(rdp: CheckType, listeners: Listeners) -> None:
    port = await listeners.start(confirm(bytes.fromhex("0200080002000000")))
    result = await check(rdp, f"127.0.0.1:{port}")
    assert (result.status, result.message) == ("up", "RDP server answered: CredSSP selected")
    assert listeners.requests == [CONNECTION_REQUEST]


async def test_negotiation_failure_still_answers(rdp: CheckType, listeners: Listeners) -> None:
    port = await listeners.start(confirm(bytes.fromhex("0300080005000000")))
    result = await check(rdp, f"127.0.0.1:{port}")
    assert (result.status, result.code, result.message) == (
        "up",
        "Connected",
        "RDP server answered: negotiation failure HYBRID_REQUIRED_BY_SERVER",
    )
    assert result.details is not None and result.details["failure_code"] == "HYBRID_REQUIRED_BY_SERVER"


async def test_legacy_confirm_without_negotiation(rdp: CheckType, listeners: Listeners) -> None:
    port = await listeners.start(confirm())
    result = await check(rdp, f"127.0.0.1:{port}")
    assert (result.status, result.message) == ("up", "RDP server answered: RDP selected")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "Error: Not an RDP server (no TPKT header: 5353482d)"),
        (
            b"\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00",
            "Error: Not an RDP server (no X.224 Connection Confirm)",
        ),
        (
            confirm(bytes.fromhex("0700080000000000")),
            "Error: Not an RDP server (unknown negotiation type 0x07)",
        ),
        (b"", "Error: Connection closed by the server"),
        (b"\x03\x00\x00\x13\x0e\xd0", "Error: Connection closed by the server"),
    ],
    ids=["ssh-banner", "connection-request-echo", "bad-negotiation", "closed", "truncated"],
)
async def test_wrong_answers(rdp: CheckType, listeners: Listeners, answer: bytes, message: str) -> None:
    port = await listeners.start(answer)
    result = await check(rdp, f"127.0.0.1:{port}")
    assert (result.status, result.code, result.message) == ("down", "error", message)


async def test_no_answer_times_out(rdp: CheckType, listeners: Listeners) -> None:
    port = await listeners.start(None)
    result = await check(rdp, f"127.0.0.1:{port}", seconds=0.5)
    assert (result.status, result.code, result.message) == ("down", "Timeout", "Timeout")


async def test_refused(rdp: CheckType) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await check(rdp, f"127.0.0.1:{port}")
    assert (result.status, result.code, result.message) == ("down", "error", "Error: Connection refused")


async def test_default_port_is_3389(rdp: CheckType) -> None:
    # Nothing listens on 127.0.0.1:3389 in the test environment unless something is very wrong.
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 3389))
        except OSError:
            pytest.skip("127.0.0.1:3389 is in use")
    result = await check(rdp, "127.0.0.1")
    assert (result.status, result.message) == ("down", "Error: Connection refused")


async def test_unresolvable_host(rdp: CheckType) -> None:
    result = await check(rdp, "no-such-host.invalid")
    assert (result.status, result.code) == ("down", "error")
    assert "no-such-host.invalid" in result.message


@pytest.mark.parametrize(
    ("target", "message"),
    [("", "Missing target"), ("127.0.0.1:rdp", "Invalid port 'rdp' in '127.0.0.1:rdp'")],
)
async def test_config_errors(rdp: CheckType, target: str, message: str) -> None:
    result = await check(rdp, target)
    assert (result.status, result.message, result.config_error) == ("down", message, True)


# --- parameters and target ------------------------------------------------------------------------


def test_valid_params(rdp: CheckType) -> None:
    assert rdp.params.model_validate({}).model_dump() == {}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"port": 3390}, "port: Extra inputs are not permitted"),
        ({"ipv6": True}, "ipv6: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(rdp: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        rdp.params.model_validate(params)
    assert validation_message(excinfo.value) == message


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("rdp.example.test", None),
        ("rdp.example.test:3390", None),
        ("[2001:db8::3]:3389", None),
        ("rdp.example.test:99999", "Invalid port '99999' in 'rdp.example.test:99999'"),
    ],
)
def test_check_target(rdp: CheckType, target: str, message: str | None) -> None:
    if message is None:
        assert rdp.params.check_target(target) == target
    else:
        with pytest.raises(ValueError) as excinfo:
            rdp.params.check_target(target)
        assert str(excinfo.value) == message
