"""Running a check type once in a test, and asserting what it reported.

- ``check(kind, target="127.0.0.1", deadline=5.0, **params)`` runs ``kind`` through the real runner with
  ``params``, a threshold of 5 s and the run cut off after ``deadline`` seconds (the mail types' tests).
- ``expect(result, status, code, message)`` asserts all three at once and shows the whole result otherwise.
- ``expect_prefix(result, status, code, prefix)`` is the same for a message that only has to start with
  ``prefix`` (the rest comes from a library or a server: versions, addresses, OpenSSL wording).
- ``expect_config_error(result, message)``: the check refused its settings (down, ``error``, ``message``,
  ``config_error`` set).
- ``outcome(result)`` is ``(status, code, message)``, for ``assert outcome(result) == (...)``.
"""

from __future__ import annotations

from typing import Any

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType
from prober.runner import run_check

HOST = "127.0.0.1"


async def check(kind: CheckType, target: str = HOST, deadline: float = 5.0, **params: Any) -> CheckResult:
    return await run_check(kind, params, CheckContext(target=target, threshold=5, timeout=deadline))


def expect(result: CheckResult, status: str, code: str | int, message: str) -> None:
    assert (result.status, result.code, result.message) == (status, code, message), result


def expect_prefix(result: CheckResult, status: str, code: str | int, prefix: str) -> None:
    assert (result.status, result.code) == (status, code), result
    assert result.message.startswith(prefix), result.message


def expect_config_error(result: CheckResult, message: str) -> None:
    reported = (result.status, result.code, result.message, result.config_error)
    assert reported == ("down", "error", message, True), result


def outcome(result: CheckResult) -> tuple[str, str | int, str]:
    return result.status, result.code, result.message
