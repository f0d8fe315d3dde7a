"""Identifier formats from nodeping-api.md §5."""

from __future__ import annotations

import secrets
import string
import time

UPPER = string.ascii_uppercase + string.digits
LOWER36 = string.ascii_lowercase + string.digits


def _pick(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def account_id(now_ms: int | None = None) -> str:
    stamp = time.strftime("%Y%m%d%H%M", time.gmtime((now_ms or time.time() * 1000) / 1000))
    return stamp + _pick(UPPER, 5)


def check_id(customer_id: str) -> str:
    return f"{customer_id}-{_pick(UPPER, 8)}"


def queue_id() -> str:
    return _pick(string.ascii_letters + string.digits, 10)


def check_uuid() -> str:
    return "-".join(_pick(LOWER36, n) for n in (8, 4, 4, 4, 12))


def check_token() -> str:
    return "-".join(_pick(UPPER, n) for n in (8, 4, 4, 4, 12))
