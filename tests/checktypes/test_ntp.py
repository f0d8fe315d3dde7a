"""NTP against a real chronyd (Debian package chrony) and an in-process UDP responder for the answers a
healthy server never gives (a clock an hour off, kiss-o'-death, unsynchronised, garbage)."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, cast

import pytest
import pytest_asyncio
from pydantic import ValidationError

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message

NTP_EPOCH_OFFSET = 2_208_988_800
PACKET = struct.Struct("!BBbbII4sQQQQ")

Reply = Callable[[bytes], bytes | None]


@pytest.fixture(scope="module")
def ntp() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.ntp"]).get("NTP")


async def check(
    ntp: CheckType, port: int, target: str = "127.0.0.1", seconds: float = 2.0, **params: Any
) -> CheckResult:
    ctx = CheckContext(target=target, threshold=max(int(seconds), 1), timeout=seconds)
    return await run_check(ntp, {"port": port, **params}, ctx)


# --- an in-process NTP responder ------------------------------------------------------------------


def ntp_time(unix: float) -> int:
    seconds = unix + NTP_EPOCH_OFFSET
    return (int(seconds) << 32) | int((seconds % 1) * 2**32)


def server_reply(
    request: bytes,
    *,
    skew: float = 0.0,
    stratum: int = 2,
    leap: int = 0,
    mode: int = 4,
    refid: bytes = b"\x7f\x00\x00\x01",
    echo_origin: bool = True,
) -> bytes:
    """A server packet answering ``request`` with a clock ``skew`` seconds off."""
    transmit = PACKET.unpack_from(request)[10]
    now = ntp_time(time.time() + skew)
    first = (leap << 6) | (4 << 3) | mode
    origin = transmit if echo_origin else transmit ^ 1
    return PACKET.pack(first, stratum, 6, -20, 0, 0, refid, now, origin, now, now)


class Responder(asyncio.DatagramProtocol):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        answer = self.reply(data)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


@pytest_asyncio.fixture(loop_scope="function")
async def responder() -> AsyncIterator[Callable[[Reply], Awaitable[int]]]:
    """Start UDP responders on 127.0.0.1; each call returns the port of a new one."""
    transports: list[asyncio.DatagramTransport] = []
    loop = asyncio.get_running_loop()

    async def start(reply: Reply) -> int:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Responder(reply), local_addr=("127.0.0.1", 0)
        )
        transports.append(transport)
        port: int = transport.get_extra_info("sockname")[1]
        return port

    yield start
    for transport in transports:
        transport.close()


# --- chronyd --------------------------------------------------------------------------------------


async def test_chrony_answers(ntp: CheckType, chrony_port: int) -> None:
    result = await check(ntp, chrony_port)
    assert (result.status, result.code) == ("up", "Received"), result.message
    assert result.details is not None
    assert result.details["stratum"] == 8
    assert result.details["server"] == "127.0.0.1"
    assert abs(result.details["offset"]) < 1.0
    assert 0 <= result.details["delay"] < 1.0
    # m = the server time (ISO 8601) and the offset.
    server_time, offset = result.message.split(" (offset ")
    assert abs(datetime.fromisoformat(server_time).timestamp() - time.time()) < 5
    assert offset.endswith(" s)")
    assert float(offset.removesuffix(" s)")) == pytest.approx(result.details["offset"], abs=1e-6)


async def test_chrony_by_host_name(ntp: CheckType, chrony_port: int) -> None:
    result = await check(ntp, chrony_port, target="localhost")
    assert (result.status, result.code) == ("up", "Received"), result.message


async def test_invert_fails_when_chrony_answers(ntp: CheckType, chrony_port: int) -> None:
    result = await check(ntp, chrony_port, invert="true")
    assert (result.status, result.code) == ("down", "Received")


def test_runs_on_uvloop(ntp: CheckType, chrony_port: int, closed_udp_port: int) -> None:
    # vedette serve runs on uvloop when it is installed: UDP replies and ICMP errors must arrive there too.
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        answered = runner.run(check(ntp, chrony_port))
        refused = runner.run(check(ntp, closed_udp_port))
    assert (answered.status, answered.code) == ("up", "Received")
    assert (refused.status, refused.message) == ("down", "Error: Connection refused")


# --- down cases -----------------------------------------------------------------------------------


async def test_refused(ntp: CheckType, closed_udp_port: int) -> None:
    result = await check(ntp, closed_udp_port)
    assert (result.status, result.code, result.message) == ("down", "error", "Error: Connection refused")


async def test_no_answer_times_out_before_the_runner(ntp: CheckType, responder: Any) -> None:
    port = await responder(lambda request: None)
    started = time.monotonic()
    result = await check(ntp, port, seconds=1.0)
    assert (result.status, result.code, result.message) == ("down", "Timeout", "Timeout")
    assert time.monotonic() - started >= 0.7  # it waited for an answer


async def test_invert_passes_on_no_answer(ntp: CheckType, responder: Any) -> None:
    port = await responder(lambda request: None)
    result = await check(ntp, port, seconds=1.0, invert=True)
    assert (result.status, result.code, result.message) == ("up", "Timeout", "Timeout")


async def test_offset_beyond_threshold(ntp: CheckType, responder: Any) -> None:
    port = await responder(lambda request: server_reply(request, skew=3600))
    result = await check(ntp, port, seconds=5.0)
    assert (result.status, result.code) == ("down", "Offset")
    assert result.message.startswith("Clock offset +3600.0")
    assert result.message.endswith(" s is beyond the threshold of 5 s")
    assert result.details is not None and result.details["offset"] == pytest.approx(3600, abs=1)


async def test_offset_within_threshold(ntp: CheckType, responder: Any) -> None:
    port = await responder(lambda request: server_reply(request, skew=-3))
    result = await check(ntp, port, seconds=5.0)
    assert (result.status, result.code) == ("up", "Received")
    assert result.details is not None and result.details["stratum"] == 2
    assert result.details["offset"] == pytest.approx(-3, abs=0.1)
    assert result.message.endswith(f"(offset {result.details['offset']:+.6f} s)")


async def test_kiss_of_death(ntp: CheckType, responder: Any) -> None:
    port = await responder(lambda request: server_reply(request, stratum=0, refid=b"DENY"))
    result = await check(ntp, port)
    assert (result.status, result.code, result.message) == (
        "down",
        "Kiss-o'-Death",
        "Kiss-o'-Death from the server: DENY",
    )


async def test_kiss_of_death_inverted_passes(ntp: CheckType, responder: Any) -> None:
    port = await responder(lambda request: server_reply(request, stratum=0, refid=b"RATE"))
    result = await check(ntp, port, invert=True)
    assert (result.status, result.code) == ("up", "Kiss-o'-Death")


async def test_unsynchronised_server(ntp: CheckType, responder: Any) -> None:
    port = await responder(lambda request: server_reply(request, stratum=16, leap=3))
    result = await check(ntp, port)
    assert (result.status, result.code, result.message) == (
        "down",
        "Unsynchronized",
        "Server clock is not synchronized (stratum 16, leap indicator 3)",
    )


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (lambda request: b"hello", "Invalid NTP reply: 5 bytes, an NTP packet has at least 48"),
        (lambda request: server_reply(request, mode=3), "Invalid NTP reply: mode 3, expected 4 (server)"),
        (
            lambda request: server_reply(request, echo_origin=False),
            "Invalid NTP reply: originate timestamp does not match the request",
        ),
    ],
    ids=["garbage", "client-mode", "wrong-origin"],
)
async def test_wrong_answer(ntp: CheckType, responder: Any, reply: Reply, message: str) -> None:
    port = await responder(reply)
    result = await check(ntp, port)
    assert (result.status, result.code, result.message) == ("down", "Invalid", message)


async def test_unresolvable_host(ntp: CheckType) -> None:
    result = await check(ntp, 123, target="no-such-host.invalid")
    assert (result.status, result.code) == ("down", "error")
    assert "no-such-host.invalid" in result.message


async def test_missing_target_is_a_config_error(ntp: CheckType) -> None:
    result = await check(ntp, 123, target="")
    assert (result.status, result.message, result.config_error) == ("down", "Missing target", True)


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"port": 123, "invert": False}),
        ({"port": "1123", "invert": "true"}, {"port": 1123, "invert": True}),
        ({"port": 123.0, "invert": 0}, {"port": 123, "invert": False}),
    ],
)
def test_valid_params(ntp: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert ntp.params.model_validate(params).model_dump() == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"port": 0}, "port: Input should be greater than or equal to 1"),
        ({"port": 70000}, "port: Input should be less than or equal to 65535"),
        ({"port": "ntp"}, "port: Input should be a valid integer, unable to parse string as an integer"),
        ({"invert": "maybe"}, "invert: Input should be a valid boolean, unable to interpret input"),
        ({"ipv6": True}, "ipv6: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(ntp: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ntp.params.model_validate(params)
    assert validation_message(excinfo.value) == message
