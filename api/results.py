"""Results, events and uptime as the NodePing API renders them (nodeping-api.md §7). Pure functions."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from api.errors import ApiError
from api.secrets import mask_url_password

DAY_MS = 86_400_000
MAX_LIMIT = 43_201
MAX_UPTIME_PERIODS = 1000


def parse_time(value: Any, field: str, *, now: int) -> int:
    """ms timestamps, ``now``, ISO 8601 dates/times or RFC 2822 dates; GMT unless a zone is given."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if text.lower() == "now":
        return now
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    parsed: datetime | None = None
    if re.fullmatch(r"\d{4}-\d{2}", text):
        text += "-01"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        raise ApiError(f"Invalid {field}: use a timestamp in ms or a date like 2024-01-31 12:00:00")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _code(value: str) -> str | int:
    return int(value) if value.isdigit() else value


def render_result(row: Mapping[str, Any], *, readonly: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {
        "_id": f"{row['check_id']}-{row['start']}",
        "ci": row["account_id"],
        "t": row["type"],
        "tg": mask_url_password(row["target"]) if readonly else row["target"],
        "th": str(row["threshold"]),
        "i": str(int(row["interval"]) if float(row["interval"]).is_integer() else row["interval"]),
        "ra": str(row["scheduled"]),
        "q": row["queue"],
        "s": row["start"],
        "e": row["end"],
        "rt": int(row["rt"]) if float(row["rt"]).is_integer() else round(row["rt"], 2),
        "su": row["success"],
        "sc": _code(row["code"]),
        "m": row["message"],
        "l": row["locations"],
    }
    if row.get("fieldtracking"):
        result["fieldtracking"] = row["fieldtracking"]
    if row.get("diag"):
        result["diag"] = row["diag"]
    return result


def render_event(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "_id": f"{row['check_id']}-{row['start']}",
        "type": row["type"],
        "start": row["start"],
        "end": row["end"],
        "open": row["end"] is None,
        "code": row["code"],
        "message": row["message"],
    }


def _period_starts(start: int, end: int, unit: str, offset_ms: int) -> list[tuple[str, int, int]]:
    """(key, period start ms, period end ms) covering [start, end], boundaries shifted by ``offset_ms``."""
    local = datetime.fromtimestamp((start + offset_ms) / 1000, UTC)
    cursor = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "months":
        cursor = cursor.replace(day=1)
    periods: list[tuple[str, int, int]] = []
    while True:
        if unit == "months":
            days = calendar.monthrange(cursor.year, cursor.month)[1]
            following = cursor + timedelta(days=days)
            key = cursor.strftime("%Y-%m")
        else:
            following = cursor + timedelta(days=1)
            key = cursor.strftime("%Y-%m-%d")
        begin = int(cursor.timestamp() * 1000) - offset_ms
        finish = int(following.timestamp() * 1000) - offset_ms
        if begin > end:
            break
        periods.append((key, begin, finish))
        if len(periods) > MAX_UPTIME_PERIODS:
            raise ApiError("Invalid start: the uptime range is too long")
        cursor = following
    return periods


def _overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def uptime(
    events: Iterable[Mapping[str, Any]],
    *,
    created: int,
    start: int,
    end: int,
    now: int,
    unit: str = "months",
    offset_hours: float = 0,
) -> dict[str, dict[str, float | int]]:
    """``{period: {down, enabled, uptime}, ..., total}``; enabled = time since creation, not disabled."""
    if unit not in ("days", "months"):
        raise ApiError("Invalid interval: must be days or months")
    if not -24 <= offset_hours <= 24:
        raise ApiError("Invalid offset: must be between -24 and 24 hours")
    offset_ms = int(offset_hours * 3_600_000)
    end = min(end, now)
    spans = [(e["type"], e["start"], e["end"] if e["end"] is not None else now) for e in events]
    report: dict[str, dict[str, float | int]] = {}
    total_down = total_enabled = 0
    for key, begin, finish in _period_starts(start, end, unit, offset_ms):
        window_start, window_end = max(begin, start, created), min(finish, end)
        if window_end <= window_start:
            enabled = down = 0
        else:
            disabled = sum(
                _overlap(s, f, window_start, window_end) for kind, s, f in spans if kind == "disabled"
            )
            down = sum(_overlap(s, f, window_start, window_end) for kind, s, f in spans if kind == "down")
            enabled = max(window_end - window_start - disabled, 0)
            down = min(down, enabled)
        report[key] = {"down": down, "enabled": enabled, "uptime": _percent(enabled, down)}
        total_down += down
        total_enabled += enabled
    report["total"] = {
        "down": total_down,
        "enabled": total_enabled,
        "uptime": _percent(total_enabled, total_down),
    }
    return report


def _percent(enabled: int, down: int) -> float | int:
    if enabled <= 0:
        return 100
    value = round(100 * (enabled - down) / enabled, 3)
    return int(value) if value.is_integer() else value
