"""``/api/1/checks``: list, read, create, update, delete, and bulk ``disableall`` (nodeping-api.md §6)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from api import ids
from api.checks import render_check
from api.consumer import event_rows
from api.errors import ApiError, NotFound
from api.nodeping.request import Tenant, as_bool, authenticate, flag_present, ids_from
from api.pipeline import CheckStatus, EventChange, Transition, apply_enabled
from api.results import parse_time, render_event, render_result, uptime
from api.services import SERVICES, Services
from api.storage.store import Row

NOT_FOUND = "Unable to find that check"


def effective_method(request: web.Request, params: dict[str, Any]) -> str:
    action = str(params.get("action") or "").upper()
    return action if action in ("GET", "PUT", "DELETE", "POST") else request.method


async def handle_checks(request: web.Request, params: dict[str, Any]) -> Any:
    services = request.app[SERVICES]
    method = effective_method(request, params)
    tenant = await authenticate(request, params, services.store, write=method != "GET")
    check_ids = ids_from(request, params)
    if method == "GET":
        return await read_checks(services, tenant, params, check_ids)
    if method == "POST":
        return await create_check(services, tenant, params)
    if method == "PUT":
        if "disableall" in params:
            return await disable_all(services, tenant, params)
        return await update_check(services, tenant, params, _one(check_ids))
    if method == "DELETE":
        return await delete_check(services, tenant, _one(check_ids))
    raise web.HTTPMethodNotAllowed(method, ["GET", "POST", "PUT", "DELETE"])


def _one(check_ids: list[str] | None) -> str:
    if not check_ids:
        raise ApiError("id is required")
    if len(check_ids) != 1:
        raise ApiError("Only one id can be given")
    return check_ids[0]


def _view(services: Services, tenant: Tenant, row: Row, status: str = "assigned") -> dict[str, Any]:
    return render_check(row, status=status, registry=services.registry, readonly=not tenant.writable)


async def read_checks(
    services: Services, tenant: Tenant, params: dict[str, Any], check_ids: list[str] | None
) -> Any:
    rows = await services.store.get_checks(tenant.account_id, check_ids)
    if check_ids is not None and not rows:
        raise NotFound(NOT_FOUND)
    views = {row["id"]: _view(services, tenant, row) for row in rows}
    if flag_present(params, "lastresult"):
        last = await services.store.last_results(list(views))
        for check_id, view in views.items():
            if check_id in last:
                view["lastresult"] = render_result(last[check_id], readonly=not tenant.writable)
    if flag_present(params, "current") and (check_ids is None or len(check_ids) > 1):
        for event in await services.store.open_events(list(views)):
            views[event["check_id"]].setdefault("current", []).append(render_event(event))
    if flag_present(params, "uptime"):
        now = services.clock.now_ms()
        for row in rows:
            views[row["id"]]["uptime"] = await uptime_for(services, row, params, now)
    if check_ids is not None and len(check_ids) == 1 and request_single(params, check_ids):
        return views[rows[0]["id"]]
    return views


def request_single(params: dict[str, Any], check_ids: list[str]) -> bool:
    raw = params.get("id")
    return not (isinstance(raw, list) or (isinstance(raw, str) and raw.strip().startswith("[")))


async def uptime_for(services: Services, row: Row, params: dict[str, Any], now: int) -> dict[str, Any]:
    unit = str(params.get("interval") or "months")
    start = parse_time(params["start"], "start", now=now) if params.get("start") else row["created"]
    end = parse_time(params["end"], "end", now=now) if params.get("end") else now
    try:
        offset = float(params.get("offset") or 0)
    except ValueError:
        raise ApiError("Invalid offset: must be a number of hours") from None
    events = await services.store.events(row["id"], start=start, end=end)
    return uptime(
        events, created=row["created"], start=start, end=end, now=now, unit=unit, offset_hours=offset
    )


async def _account_check_type(services: Services, account_id: str, check_id: str) -> str | None:
    rows = await services.store.get_checks(account_id, [check_id])
    return rows[0]["type"] if rows else None


async def create_check(services: Services, tenant: Tenant, params: dict[str, Any]) -> dict[str, Any]:
    async def lookup(check_id: str) -> str | None:
        return await _account_check_type(services, tenant.account_id, check_id)

    values = await services.validator.build(params, lookup)
    now = services.clock.now_ms()
    row = {
        **values,
        "id": ids.check_id(tenant.account_id),
        "account_id": tenant.account_id,
        "acctdisable": False,
        "rev": 1,
        "queue": ids.queue_id(),
        "uuid": ids.check_uuid(),
        "created": now,
        "modified": now,
    }
    await services.store.insert_check(row)
    if not row["enabled"]:
        await services.store.update_checks([], _event_rows(row, apply_enabled(True, False, now)))
    stored = await services.store.get_check(row["id"])
    assert stored is not None
    services.check_changed(stored, created=True)
    return _view(services, tenant, stored)


def _event_rows(row: Row, changes: tuple[EventChange, ...]) -> list[Row]:
    return event_rows(row["id"], row["account_id"], Transition(CheckStatus(), changes))


def _active(row: Row) -> bool:
    return bool(row["enabled"]) and not row["acctdisable"]


async def update_check(
    services: Services, tenant: Tenant, params: dict[str, Any], check_id: str
) -> dict[str, Any]:
    rows = await services.store.get_checks(tenant.account_id, [check_id])
    if not rows:
        raise NotFound(NOT_FOUND)
    current = rows[0]

    async def lookup(other: str) -> str | None:
        return await _account_check_type(services, tenant.account_id, other)

    values = await services.validator.build(params, lookup, current)
    now = services.clock.now_ms()
    values.update(rev=current["rev"] + 1, modified=now)
    after = {**current, **values}
    events = _event_rows(current, apply_enabled(_active(current), _active(after), now))
    await services.store.update_checks([(check_id, values)], events)
    stored = await services.store.get_check(check_id)
    assert stored is not None
    services.check_changed(stored)
    view = _view(services, tenant, stored, status="modified")
    view["enabled"] = view["enable"]
    return view


async def delete_check(services: Services, tenant: Tenant, check_id: str) -> dict[str, Any]:
    if not await services.store.delete_check(tenant.account_id, check_id):
        raise NotFound(NOT_FOUND)
    services.check_deleted(check_id)
    return {"ok": True, "id": check_id}


def _regex(params: dict[str, Any], name: str) -> re.Pattern[str] | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise ApiError(f"Invalid {name} regular expression: {exc}") from None


async def disable_all(services: Services, tenant: Tenant, params: dict[str, Any]) -> dict[str, int]:
    """Disable (or re-enable what this mechanism disabled) every matching check (nodeping-api.md §6.6)."""
    disable = as_bool(params.get("disableall"))
    filters = [
        (field, pattern) for field in ("type", "label", "target") if (pattern := _regex(params, field))
    ]
    now = services.clock.now_ms()
    rows = await services.store.get_checks(tenant.account_id)
    changes: list[tuple[str, dict[str, Any]]] = []
    events: list[Row] = []
    changed_ids: set[str] = set()
    for row in rows:
        subject = {
            "type": row["type"],
            "label": row["label"],
            "target": str(row["parameters"].get("target", "")),
        }
        if not all(pattern.search(subject[field]) for field, pattern in filters):
            continue
        flips = row["enabled"] and not row["acctdisable"] if disable else row["acctdisable"]
        if not flips:
            continue
        values = {"acctdisable": disable, "rev": row["rev"] + 1, "modified": now}
        changes.append((row["id"], values))
        events.extend(_event_rows(row, apply_enabled(_active(row), _active({**row, **values}), now)))
        changed_ids.add(row["id"])
    await services.store.update_checks(changes, events)
    for row in await services.store.get_checks(tenant.account_id, list(changed_ids)) if changed_ids else []:
        services.check_changed(row)
    after = await services.store.get_checks(tenant.account_id)
    return {
        "disableall": len(changes),
        "disabled": sum(1 for row in after if not row["enabled"]),
        "enabled": sum(1 for row in after if _active(row)),
    }
