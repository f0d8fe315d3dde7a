"""``/api/1/results``: history, uptime, events and current open events (nodeping-api.md §7)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.errors import ApiError, NotFound
from api.nodeping.checks import NOT_FOUND, uptime_for
from api.nodeping.request import Tenant, as_bool, authenticate, ids_from
from api.results import MAX_LIMIT, parse_time, render_event, render_result
from api.services import SERVICES, Services
from api.storage.store import Row

DEFAULT_LIMIT = 300


async def handle_results(request: web.Request, params: dict[str, Any]) -> Any:
    services = request.app[SERVICES]
    tenant = await authenticate(request, params, services.store, write=False)
    sub = request.match_info.get("sub", "")
    action = str(params.get("action") or "").upper()
    if sub == "current" or action == "CURRENT":
        return await current_events(services, tenant)
    check = await _check(services, tenant, request, params)
    if sub == "uptime" or action == "UPTIME":
        return await uptime_for(services, check, params, services.clock.now_ms())
    if sub == "events":
        return await events(services, check, params)
    if sub == "summary":
        return await summary(services, check, params)
    if sub:
        raise NotFound("Unknown resource")
    return await history(services, check, params, readonly=not tenant.writable)


async def _check(services: Services, tenant: Tenant, request: web.Request, params: dict[str, Any]) -> Row:
    check_ids = ids_from(request, params)
    if not check_ids:
        raise ApiError("id is required")
    rows = await services.store.get_checks(tenant.account_id, check_ids[:1])
    if not rows:
        raise NotFound(NOT_FOUND)
    return rows[0]


def _int(params: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        raise ApiError(f"Invalid {name}") from None
    if not low <= number <= high:
        raise ApiError(f"Invalid {name}: must be between {low} and {high}")
    return number


async def history(
    services: Services, check: Row, params: dict[str, Any], *, readonly: bool = False
) -> list[dict[str, Any]]:
    now = services.clock.now_ms()
    limit = _int(params, "limit", 1, MAX_LIMIT)
    span = _int(params, "span", 1, 24 * 366)
    has_range = params.get("start") not in (None, "") or params.get("end") not in (None, "")
    if span is not None and has_range:
        raise ApiError("span cannot be combined with start or end")
    start = end = None
    ascending = False
    if span is not None:
        start = now - span * 3_600_000
    else:
        if params.get("start") not in (None, ""):
            start = parse_time(params["start"], "start", now=now)
        if params.get("end") not in (None, ""):
            end = parse_time(params["end"], "end", now=now)
        if start is not None and end is not None and start > end:
            start, end, ascending = end, start, True
        if limit is None and not has_range:
            limit = DEFAULT_LIMIT
    rows = await services.store.results(check["id"], start=start, end=end, limit=limit, ascending=ascending)
    clean = as_bool(params.get("clean")) or limit == 1
    rendered = [render_result(row, readonly=readonly) for row in rows]
    return rendered if clean else [{"doc": record} for record in rendered]


async def events(services: Services, check: Row, params: dict[str, Any]) -> list[dict[str, Any]]:
    now = services.clock.now_ms()
    start = parse_time(params["start"], "start", now=now) if params.get("start") else None
    end = parse_time(params["end"], "end", now=now) if params.get("end") else None
    limit = _int(params, "limit", 1, MAX_LIMIT)
    return [render_event(row) for row in await services.store.events(check["id"], start, end, limit)]


async def current_events(services: Services, tenant: Tenant) -> dict[str, Any]:
    current: dict[str, Any] = {}
    for row in await services.store.open_events(account_id=tenant.account_id):
        event = render_event(row)
        event["checkid"] = row["check_id"]
        current[event["_id"]] = event
    return current


async def summary(services: Services, check: Row, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Hourly counts for ``nodepingpy``'s summary call (shape inferred, nodeping-api.md §7.5)."""
    now = services.clock.now_ms()
    span = _int(params, "span", 1, 24 * 31) or 24
    hours: dict[int, dict[str, Any]] = {}
    for row in await services.store.results(check["id"], start=now - span * 3_600_000):
        hour = row["start"] - row["start"] % 3_600_000
        bucket = hours.setdefault(hour, {"hour": hour, "count": 0, "pass": 0, "fail": 0, "rt": 0.0})
        bucket["count"] += 1
        bucket["pass" if row["success"] else "fail"] += 1
        bucket["rt"] += row["rt"]
    return [
        {
            "hour": b["hour"],
            "count": b["count"],
            "pass": b["pass"],
            "fail": b["fail"],
            "avgrt": round(b["rt"] / b["count"], 2),
        }
        for b in sorted(hours.values(), key=lambda b: -b["hour"])
    ]
