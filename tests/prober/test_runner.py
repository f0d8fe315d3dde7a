"""The runner owns timeout, duration and unexpected exceptions; plugins here are throwaway modules."""

from __future__ import annotations

import asyncio
import time
import types
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from prober.base import HTTP_TIMEOUT_CEILING, CheckContext, CheckParams, CheckResult, ConfigError, Port
from prober.registry import CheckType, check_type_from_module
from prober.runner import DEFAULT_TIMEOUT, run_check, timeout_for

NOT_AN_INTEGER = "unable to parse string as an integer"

Run = Callable[[Any, CheckContext], Awaitable[CheckResult]] | None


class FakeParams(CheckParams):
    port: Port = 80


def plugin(run: Run, *, name: str = "FAKE", **attributes: Any) -> CheckType:
    """A check type from a module object built on the spot, loaded through the registry's own path."""
    module = types.ModuleType(f"fake_{name.lower()}", f"{name}: a test plugin.")
    module.NAME = name  # type: ignore[attr-defined]
    module.Params = FakeParams  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    for key, value in attributes.items():
        setattr(module, key, value)
    return check_type_from_module(module, "test")


def ctx(timeout: float = 5.0, **extra: Any) -> CheckContext:
    return CheckContext(target="example.test", threshold=max(int(timeout), 1), timeout=timeout, **extra)


async def test_up_result_gets_start_end_and_duration() -> None:
    async def run(params: FakeParams, ctx: CheckContext) -> CheckResult:
        await asyncio.sleep(0.01)
        return CheckResult.up("Connected", f"port {params.port}")

    before = time.time()
    result = await run_check(plugin(run), {"port": "8080"}, ctx())
    assert (result.status, result.code, result.message) == ("up", "Connected", "port 8080")
    assert result.duration_ms >= 10
    assert before <= result.start < result.end <= time.time() + 0.001
    assert result.end - result.start == pytest.approx(result.duration_ms / 1000, abs=1e-6)


async def test_validated_params_are_passed_through() -> None:
    seen: list[Any] = []

    async def run(params: FakeParams, ctx: CheckContext) -> CheckResult:
        seen.append(params)
        return CheckResult.up("ok", "ok")

    params = FakeParams(port=443)
    await run_check(plugin(run), params, ctx())
    assert seen == [params]


async def test_timeout_is_owned_by_the_runner() -> None:
    async def run(params: FakeParams, ctx: CheckContext) -> CheckResult:
        await asyncio.sleep(30)
        return CheckResult.up("late", "late")

    started = time.monotonic()
    result = await run_check(plugin(run), {}, ctx(timeout=0.2))
    elapsed = time.monotonic() - started
    assert (result.status, result.code, result.message) == ("down", "Timeout", "Timeout")
    assert 0.2 <= elapsed < 1.0
    assert result.duration_ms == pytest.approx(elapsed * 1000, abs=50)
    assert not result.config_error


async def test_plugin_exception_becomes_an_error_result() -> None:
    async def run(params: FakeParams, ctx: CheckContext) -> CheckResult:
        raise RuntimeError("boom")

    check_type = plugin(run)
    result = await run_check(check_type, {}, ctx())
    assert (result.status, result.code, result.message) == ("error", "error", "Caught RuntimeError: boom")
    assert not result.success
    assert result.end >= result.start > 0
    # The same worker (event loop, task) carries on running checks.
    again = await run_check(check_type, {}, ctx())
    assert again.message == "Caught RuntimeError: boom"


async def test_config_error_is_flagged() -> None:
    async def run(params: FakeParams, ctx: CheckContext) -> CheckResult:
        raise ConfigError("Missing target")

    result = await run_check(plugin(run), {}, ctx())
    assert (result.status, result.message, result.config_error) == ("down", "Missing target", True)


async def test_type_without_run_is_not_yet_runnable() -> None:
    check_type = plugin(None, name="LATER")
    assert not check_type.runnable
    result = await run_check(check_type, {}, ctx())
    assert result.status == "error"
    assert result.config_error
    assert result.message == "LATER checks are accepted but not yet runnable"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"port": 0}, "Invalid parameters: port: Input should be greater than or equal to 1"),
        ({"port": "http"}, "Invalid parameters: port: Input should be a valid integer, " + NOT_AN_INTEGER),
        ({"colour": "red"}, "Invalid parameters: colour: Extra inputs are not permitted"),
    ],
)
async def test_invalid_params_dict_is_a_config_error(params: dict[str, Any], message: str) -> None:
    async def run(params: FakeParams, ctx: CheckContext) -> CheckResult:
        raise AssertionError("never called with bad parameters")

    result = await run_check(plugin(run), params, ctx())
    assert (result.status, result.message, result.config_error) == ("down", message, True)


async def test_cancellation_is_not_swallowed() -> None:
    started = asyncio.Event()

    async def run(params: FakeParams, ctx: CheckContext) -> CheckResult:
        started.set()
        await asyncio.sleep(30)
        return CheckResult.up("late", "late")

    task = asyncio.create_task(run_check(plugin(run), {}, ctx(timeout=30)))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize(
    ("threshold", "timeout"),
    [(5, 5.0), (0, 1.0), (-3, 1.0), (1, 1.0), (90, 90.0), (600, HTTP_TIMEOUT_CEILING)],
)
def test_timeout_follows_threshold_with_a_ceiling(threshold: int, timeout: float) -> None:
    assert timeout_for(plugin(None), threshold) == timeout


def test_threshold_that_is_not_seconds_gets_the_default_timeout() -> None:
    cluster_like = plugin(None, name="MEMBERS", THRESHOLD_IS_TIMEOUT=False)
    assert timeout_for(cluster_like, 3) == DEFAULT_TIMEOUT
