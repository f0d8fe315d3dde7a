"""PORT against real asyncio TCP listeners on port 0.

The timeout path is the runner's (a connect that never completes is cancelled at ``ctx.timeout``); it is
tested once for every type in tests/prober/test_runner.py rather than with an unreliable full backlog here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pydantic import ValidationError

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message


@pytest.fixture(scope="module")
def port_type() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.port"]).get("PORT")


async def _accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def _listen(host: str) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(_accept, host, 0)
    return server, server.sockets[0].getsockname()[1]


@pytest_asyncio.fixture(loop_scope="function")
async def open_port() -> AsyncIterator[int]:
    server, port = await _listen("127.0.0.1")
    async with server:
        yield port


async def check(port_type: CheckType, target: str, **params: Any) -> CheckResult:
    return await run_check(port_type, params, CheckContext(target=target, threshold=5, timeout=5.0))


async def test_open_port_is_up(port_type: CheckType, open_port: int) -> None:
    result = await check(port_type, "127.0.0.1", port=open_port)
    assert (result.status, result.code, result.message) == ("up", "Connected", "Resolved: 127.0.0.1")
    assert result.duration_ms > 0


async def test_host_name_resolves(port_type: CheckType, open_port: int) -> None:
    result = await check(port_type, "localhost", port=str(open_port))
    assert (result.status, result.code, result.message) == ("up", "Connected", "Resolved: 127.0.0.1")


async def test_closed_port_is_refused(port_type: CheckType, closed_port: int) -> None:
    result = await check(port_type, "127.0.0.1", port=closed_port)
    assert (result.status, result.code, result.message) == ("down", "error", "Error: Connection refused")


async def test_invert_passes_on_a_closed_port(port_type: CheckType, closed_port: int) -> None:
    result = await check(port_type, "127.0.0.1", port=closed_port, invert=True)
    assert (result.status, result.message) == ("up", "Error: Connection refused")


async def test_invert_fails_on_an_open_port(port_type: CheckType, open_port: int) -> None:
    result = await check(port_type, "127.0.0.1", port=open_port, invert="true")
    assert (result.status, result.code) == ("down", "Connected")


async def test_unresolvable_host(port_type: CheckType) -> None:
    result = await check(port_type, "no-such-host.invalid", port=80)
    assert (result.status, result.code) == ("down", "error")
    assert "no-such-host.invalid" in result.message


async def test_ipv6_will_not_use_an_ipv4_literal(port_type: CheckType, open_port: int) -> None:
    result = await check(port_type, "127.0.0.1", port=open_port, ipv6=True)
    assert (result.status, result.message) == ("down", "No addresses found for 127.0.0.1")


async def test_missing_target_is_a_config_error(port_type: CheckType) -> None:
    result = await check(port_type, "", port=80)
    assert (result.status, result.message, result.config_error) == ("down", "Missing target", True)


@pytest_asyncio.fixture(loop_scope="function")
async def ipv6_port() -> AsyncIterator[int]:
    try:
        server, port = await _listen("::1")
    except OSError:
        pytest.skip("::1 is not bindable here")
    async with server:
        yield port


@pytest.mark.parametrize("ipv6", [True, False])
async def test_ipv6_loopback(port_type: CheckType, ipv6_port: int, ipv6: bool) -> None:
    # Without ipv6 an IPv6 literal still connects (no A record: AAAA is the fallback).
    result = await check(port_type, "::1", port=ipv6_port, ipv6=ipv6)
    assert (result.status, result.code, result.message) == ("up", "Connected", "Resolved: ::1")


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"port": 22}, {"port": 22, "invert": False, "ipv6": False}),
        ({"port": "5432"}, {"port": 5432, "invert": False, "ipv6": False}),
        ({"port": 443.0, "invert": "true"}, {"port": 443, "invert": True, "ipv6": False}),
        ({"port": 65535, "ipv6": 1}, {"port": 65535, "invert": False, "ipv6": True}),
    ],
)
def test_valid_params(port_type: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert port_type.params.model_validate(params).model_dump() == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "port: Field required"),
        ({"port": ""}, "port: Input should be a valid integer, unable to parse string as an integer"),
        ({"port": 0}, "port: Input should be greater than or equal to 1"),
        ({"port": 65536}, "port: Input should be less than or equal to 65535"),
        ({"port": "ssh"}, "port: Input should be a valid integer, unable to parse string as an integer"),
        (
            {"port": 22, "invert": "sometimes"},
            "invert: Input should be a valid boolean, unable to interpret input",
        ),
        ({"port": 22, "follow": True}, "follow: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(port_type: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        port_type.params.model_validate(params)
    assert validation_message(excinfo.value) == message
