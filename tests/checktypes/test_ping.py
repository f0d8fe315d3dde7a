"""PING against the kernel's own ICMP echo on 127.0.0.1 and ::1, and through network namespaces created for
the test (tests/servers/netns.py): a routed target, a target that ignores pings, an unrouted address. The
unprivileged paths run in a subprocess without CAP_NET_RAW inside a fresh namespace, where
``net.ipv4.ping_group_range`` can be set without touching the host."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from typing import Any

import pytest
from pydantic import ValidationError
from servers.netns import IcmpLab, run_check_in_netns, set_sysctl

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message

NOT_PERMITTED = "ICMP not permitted: run as root or allow unprivileged ping (net.ipv4.ping_group_range)"


@pytest.fixture(scope="module")
def ping() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.ping"]).get("PING")


async def check(ping: CheckType, target: str, seconds: float = 2.0, **params: Any) -> CheckResult:
    ctx = CheckContext(target=target, threshold=max(int(seconds), 1), timeout=seconds)
    return await run_check(ping, params, ctx)


def assert_reply(result: CheckResult, address: str) -> None:
    assert (result.status, result.message) == ("up", address), result
    assert isinstance(result.code, str) and re.fullmatch(r"\d+\.\d{2}", result.code)
    assert result.value == float(result.code)
    assert result.details is not None
    assert (result.details["packets_sent"], result.details["packets_received"]) == (1, 1)
    assert result.details["packet_loss"] == 0
    assert result.details["address"] == address


# --- loopback -------------------------------------------------------------------------------------


async def test_ipv4_loopback(ping: CheckType) -> None:
    result = await check(ping, "127.0.0.1")
    assert_reply(result, "127.0.0.1")
    assert result.value is not None and result.value < 100


async def test_host_name_resolves_to_ipv4(ping: CheckType) -> None:
    assert_reply(await check(ping, "localhost"), "127.0.0.1")


def test_runs_on_uvloop(ping: CheckType) -> None:
    # vedette serve runs on uvloop when it is installed.
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert_reply(runner.run(check(ping, "127.0.0.1")), "127.0.0.1")


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no ::1 here")
@pytest.mark.parametrize("ipv6", [True, False])
async def test_ipv6_loopback(ping: CheckType, ipv6: bool) -> None:
    # Without ipv6 an IPv6 literal still works (no A record: AAAA is the fallback).
    assert_reply(await check(ping, "::1", ipv6=ipv6), "::1")


async def test_ipv6_will_not_use_an_ipv4_literal(ping: CheckType) -> None:
    result = await check(ping, "127.0.0.1", ipv6=True)
    assert (result.status, result.code, result.message) == (
        "down",
        "error",
        "No addresses found for 127.0.0.1",
    )


async def test_unresolvable_host(ping: CheckType) -> None:
    result = await check(ping, "no-such-host.invalid")
    assert (result.status, result.code) == ("down", "error")
    assert "no-such-host.invalid" in result.message


async def test_missing_target_is_a_config_error(ping: CheckType) -> None:
    result = await check(ping, "")
    assert (result.status, result.message, result.config_error) == ("down", "Missing target", True)


# --- through the namespace lab ----------------------------------------------------------------------


async def test_routed_target(ping: CheckType, icmp_lab: IcmpLab) -> None:
    assert_reply(await check(ping, icmp_lab.target), icmp_lab.target)


async def test_no_reply_is_a_timeout_before_the_runner(ping: CheckType, icmp_lab: IcmpLab) -> None:
    started = time.monotonic()
    result = await check(ping, icmp_lab.silent_target, seconds=1.0)
    elapsed = time.monotonic() - started
    # The plugin's own "timeout" (lower case, spec) wins over the runner's "Timeout".
    assert (result.status, result.code, result.message) == ("down", "timeout", "Timeout")
    assert elapsed >= 0.7  # it waited for the reply
    assert result.details is not None
    assert (result.details["packets_sent"], result.details["packets_received"]) == (1, 0)
    assert result.details["packet_loss"] == 100


async def test_destination_unreachable_is_no_reply(ping: CheckType, icmp_lab: IcmpLab) -> None:
    started = time.monotonic()
    result = await check(ping, icmp_lab.unrouted, seconds=3.0)
    assert (result.status, result.code, result.message) == ("down", "timeout", "Timeout")
    assert time.monotonic() - started < 1.5  # the router's answer ends the wait


# --- privileges -----------------------------------------------------------------------------------


def test_without_raw_sockets_or_ping_group(empty_netns: str) -> None:
    # A new namespace starts with ping_group_range "1 0": no group may open ping sockets.
    result = run_check_in_netns(empty_netns, "PING", "127.0.0.1")
    assert (result["status"], result["message"], result["config_error"]) == ("down", NOT_PERMITTED, True)


@pytest.mark.parametrize("target", ["127.0.0.1", "::1"])
def test_unprivileged_ping_socket(empty_netns: str, target: str) -> None:
    set_sysctl(empty_netns, "net.ipv4.ping_group_range", "0 2147483647")
    result = run_check_in_netns(empty_netns, "PING", target)
    assert (result["status"], result["message"]) == ("up", target), result
    assert re.fullmatch(r"\d+\.\d{2}", result["code"])
    assert result["details"]["privileged"] is False


def test_raw_socket_when_permitted(empty_netns: str) -> None:
    result = run_check_in_netns(empty_netns, "PING", "127.0.0.1", without_net_raw=False)
    assert (result["status"], result["details"]["privileged"]) == ("up", True)


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [({}, {"ipv6": False}), ({"ipv6": 1}, {"ipv6": True}), ({"ipv6": "false"}, {"ipv6": False})],
)
def test_valid_params(ping: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert ping.params.model_validate(params).model_dump() == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ipv6": "both"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
        ({"count": 3}, "count: Extra inputs are not permitted"),
        ({"query": "SELECT 1"}, "query: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(ping: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ping.params.model_validate(params)
    assert validation_message(excinfo.value) == message
