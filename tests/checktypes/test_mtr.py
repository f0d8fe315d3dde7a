"""MTR against the kernel's ICMP on 127.0.0.1 / ::1 (one hop) and through a router namespace created for
the test (tests/servers/netns.py): a two-hop path, a target that rate-limits its echo replies (partial
loss) and one that ignores pings (unreachable)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError
from servers.netns import IcmpLab, run_check_in_netns

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import DEFAULT_TIMEOUT, run_check, timeout_for, validation_message

FIELDTRACKING = {"best", "avg", "wrst", "jttr", "javg", "jmax", "jint", "loss"}
PROBES_PER_HOP = 5


@pytest.fixture(scope="module")
def mtr() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.mtr"]).get("MTR")


async def check(
    mtr: CheckType, target: str, threshold: int = 10, seconds: float = 2.0, **params: Any
) -> CheckResult:
    return await run_check(mtr, params, CheckContext(target=target, threshold=threshold, timeout=seconds))


def assert_clean_path(result: CheckResult, hops: list[str]) -> None:
    target = hops[-1]
    assert (result.status, result.code, result.message, result.value) == ("up", "Packet loss:0%", target, 0)
    assert result.fieldtracking is not None and set(result.fieldtracking) == FIELDTRACKING
    fields = result.fieldtracking
    assert fields["loss"] == 0
    assert 0 < fields["best"] <= fields["avg"] <= fields["wrst"]
    assert result.details is not None and result.details["address"] == target
    assert [hop["address"] for hop in result.details["hops"]] == hops
    assert [hop["hop"] for hop in result.details["hops"]] == list(range(1, len(hops) + 1))
    last = result.details["hops"][-1]
    assert (last["sent"], last["received"], last["loss"]) == (PROBES_PER_HOP, PROBES_PER_HOP, 0)


def test_threshold_is_loss_not_timeout(mtr: CheckType) -> None:
    assert not mtr.threshold_is_timeout
    assert timeout_for(mtr, 10) == DEFAULT_TIMEOUT


async def test_loopback_is_one_hop(mtr: CheckType) -> None:
    assert_clean_path(await check(mtr, "127.0.0.1"), ["127.0.0.1"])


async def test_ipv6_loopback(mtr: CheckType) -> None:
    assert_clean_path(await check(mtr, "::1", ipv6=True), ["::1"])


async def test_host_name(mtr: CheckType) -> None:
    assert_clean_path(await check(mtr, "localhost", threshold=0), ["127.0.0.1"])


def test_runs_on_uvloop(mtr: CheckType) -> None:
    # vedette serve runs on uvloop when it is installed; uvloop lacks loop.sock_recvfrom.
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(check(mtr, "127.0.0.1"))
    assert_clean_path(result, ["127.0.0.1"])


async def test_two_hops_through_a_router(mtr: CheckType, icmp_lab: IcmpLab) -> None:
    result = await check(mtr, icmp_lab.target)
    assert_clean_path(result, [icmp_lab.router, icmp_lab.target])
    assert result.details is not None
    assert result.details["hops"][0]["received"] == PROBES_PER_HOP  # Time Exceeded from the router


async def test_loss_above_threshold(mtr: CheckType, icmp_lab: IcmpLab) -> None:
    # The lossy target answers one echo request per minute: 1 of the 5 probes at its hop.
    result = await check(mtr, icmp_lab.lossy_target, threshold=50)
    assert (result.status, result.code, result.value) == ("down", "Packet loss:80%", 80)
    assert result.message == "Packet loss 80% greater than configured threshold of 50%"
    assert result.fieldtracking is not None and result.fieldtracking["loss"] == 80
    assert result.details is not None
    hops = result.details["hops"]
    assert [hop["address"] for hop in hops] == [icmp_lab.router, icmp_lab.lossy_target]
    assert (hops[0]["loss"], hops[1]["received"]) == (0, 1)


async def test_unreachable_target(mtr: CheckType, icmp_lab: IcmpLab) -> None:
    result = await check(mtr, icmp_lab.silent_target, threshold=100)
    assert (result.status, result.code, result.message, result.value) == (
        "down",
        "Unreachable: 100%",
        f"Unable to reach host at {icmp_lab.silent_target}",
        100,
    )
    assert result.details is not None
    assert [hop["address"] for hop in result.details["hops"]] == [icmp_lab.router]
    assert result.duration_ms < 2000  # finished inside the run's budget


async def test_destination_unreachable_stops_the_trace(mtr: CheckType, icmp_lab: IcmpLab) -> None:
    result = await check(mtr, icmp_lab.unrouted)
    assert (result.status, result.code) == ("down", "Unreachable: 100%")
    assert result.details is not None
    hops = result.details["hops"]
    assert [hop["address"] for hop in hops] == [icmp_lab.router]  # Destination Unreachable at hop 1
    assert hops[0]["sent"] == PROBES_PER_HOP


async def test_unresolvable_host(mtr: CheckType) -> None:
    result = await check(mtr, "no-such-host.invalid")
    assert (result.status, result.code) == ("down", "error")
    assert "no-such-host.invalid" in result.message


async def test_missing_target_is_a_config_error(mtr: CheckType) -> None:
    result = await check(mtr, "")
    assert (result.status, result.message, result.config_error) == ("down", "Missing target", True)


def test_raw_sockets_are_required(empty_netns: str) -> None:
    result = run_check_in_netns(empty_netns, "MTR", "127.0.0.1")
    assert (result["status"], result["config_error"]) == ("down", True)
    assert result["message"] == "Raw ICMP sockets not permitted: run the probe as root (or with CAP_NET_RAW)"


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "expected"), [({}, {"ipv6": False}), ({"ipv6": "true"}, {"ipv6": True})])
def test_valid_params(mtr: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert mtr.params.model_validate(params).model_dump() == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ipv6": "v6"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
        ({"port": 80}, "port: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(mtr: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        mtr.params.model_validate(params)
    assert validation_message(excinfo.value) == message
