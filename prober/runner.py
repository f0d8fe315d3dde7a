"""The runner: the one place that owns a run's timeout, duration and unexpected exceptions.

Plugins return ``CheckResult`` or raise ``ConfigError``; anything else they raise becomes a result with
``status="error"`` (the run could not measure), never a crashed worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from prober.base import HTTP_TIMEOUT_CEILING, CheckContext, CheckParams, CheckResult, ConfigError
from prober.registry import CheckType

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
"""Timeout for types whose ``threshold`` is not a number of seconds (CLUSTER, MTR)."""


def timeout_for(check_type: CheckType, threshold: int) -> float:
    if not check_type.threshold_is_timeout:
        return DEFAULT_TIMEOUT
    return float(min(max(threshold, 1), HTTP_TIMEOUT_CEILING))


def validation_message(exc: ValidationError) -> str:
    """A short message naming the first bad field, e.g. ``port: Field required``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "parameters"
    return f"{where}: {first['msg']}"


async def run_check(
    check_type: CheckType,
    params: CheckParams | Mapping[str, Any],
    ctx: CheckContext,
) -> CheckResult:
    """Run one check once and return its result with ``start``, ``end`` and ``duration_ms`` set."""
    start = time.time()
    started = time.perf_counter()
    result = await _run_guarded(check_type, params, ctx)
    result.duration_ms = round((time.perf_counter() - started) * 1000, 3)
    result.start = start
    result.end = start + result.duration_ms / 1000
    return result


async def _run_guarded(
    check_type: CheckType, params: CheckParams | Mapping[str, Any], ctx: CheckContext
) -> CheckResult:
    if check_type.run is None:
        return CheckResult(
            status="error",
            code="error",
            message=f"{check_type.name} checks are accepted but not yet runnable",
            config_error=True,
        )
    try:
        if not isinstance(params, CheckParams):
            params = check_type.params.model_validate(dict(params))
        async with asyncio.timeout(ctx.timeout):
            return await check_type.run(params, ctx)
    except ConfigError as exc:
        return CheckResult.down("error", str(exc), config_error=True)
    except ValidationError as exc:
        return CheckResult.down("error", f"Invalid parameters: {validation_message(exc)}", config_error=True)
    except TimeoutError:
        return CheckResult.down("Timeout", "Timeout")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # A plugin bug or an unexpected library error: report it, keep the worker alive.
        log.warning("%s check %s raised %s", check_type.name, ctx.check_id or "-", type(exc).__name__)
        return CheckResult(status="error", code="error", message=f"Caught {type(exc).__name__}: {exc}")
