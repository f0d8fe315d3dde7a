"""``/api/1/accounts``: the account and its subaccounts (nodeping-api.md §14)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import ids
from api.errors import ApiError, Forbidden, NotFound
from api.nodeping.checks import effective_method
from api.nodeping.request import Tenant, as_bool, authenticate
from api.probes import REGIONS
from api.services import SERVICES, Services
from api.storage.store import Row

ACCOUNT_FIELDS = ("name", "timezone", "location", "emailme", "status", "autodiagnotifications")


def render_account(row: Row) -> dict[str, Any]:
    return {
        "_id": row["id"],
        "type": "customer",
        "customer_name": row["name"],
        "name": row["name"],
        "creation_date": row["created"],
        "status": row["status"],
        "timezone": row["timezone"],
        "defaultlocations": row["default_locations"],
        "parent": row["parent_id"] or False,
        **{
            k: v
            for k, v in row["settings"].items()
            if k in ("emailme", "autodiagnotifications", "accountsupressall")
        },
    }


async def handle_accounts(request: web.Request, params: dict[str, Any]) -> Any:
    services = request.app[SERVICES]
    method = effective_method(request, params)
    tenant = await authenticate(request, params, services.store, write=method != "GET")
    target = request.match_info.get("id") or params.get("customerid") or params.get("id")
    if method == "GET":
        if target and target != tenant.token_account_id:
            return render_account(await _owned(services, tenant, str(target)))
        return await list_accounts(services, tenant)
    if method == "POST":
        return await create_subaccount(services, tenant, params)
    if method == "PUT":
        account_id = str(target or tenant.account_id)
        row = await _owned(services, tenant, account_id) if account_id != tenant.token_account_id else None
        return await update_account(services, row or await _self(services, tenant), params)
    if method == "DELETE":
        if not target or target == tenant.token_account_id:
            raise Forbidden("The primary account cannot be deleted through the API")
        await _owned(services, tenant, str(target))
        await services.store.delete_account(str(target))
        return {"ok": True, "id": target}
    raise web.HTTPMethodNotAllowed(method, ["GET", "POST", "PUT", "DELETE"])


async def _self(services: Services, tenant: Tenant) -> Row:
    row = await services.store.get_account(tenant.token_account_id)
    if row is None:
        raise NotFound("Unable to find that account")
    return row


async def _owned(services: Services, tenant: Tenant, account_id: str) -> Row:
    row = await services.store.get_account(account_id)
    if row is None or row["parent_id"] != tenant.token_account_id:
        raise Forbidden("Invalid customerid")
    return row


async def list_accounts(services: Services, tenant: Tenant) -> dict[str, Any]:
    primary = await _self(services, tenant)
    subs = await services.store.subaccounts(primary["id"])
    listing = {
        primary["id"]: {
            "_id": primary["id"],
            "name": primary["name"],
            "status": primary["status"],
            "parent": len(subs),
            "count": await services.store.count_checks(primary["id"]),
        }
    }
    for sub in subs:
        listing[sub["id"]] = {
            "_id": sub["id"],
            "name": sub["name"],
            "status": sub["status"],
            "parent": primary["id"],
            "count": await services.store.count_checks(sub["id"]),
        }
    return listing


def _location(value: Any) -> list[str]:
    if value in (None, "", False):
        return ["nam"]
    if value not in REGIONS:
        raise ApiError(f"Invalid location: must be one of {', '.join(REGIONS)}")
    return [str(value)]


async def create_subaccount(services: Services, tenant: Tenant, params: dict[str, Any]) -> dict[str, Any]:
    if tenant.account_id != tenant.token_account_id:
        raise ApiError("Subaccounts cannot have subaccounts")
    name = params.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError("name is required")
    now = services.clock.now_ms()
    row = {
        "id": ids.account_id(now),
        "parent_id": tenant.token_account_id,
        "name": name.strip(),
        "status": "Active",
        "timezone": str(params.get("timezone") or "0"),
        "default_locations": _location(params.get("location")),
        "settings": {
            "emailme": as_bool(params.get("emailme")),
            "contactname": str(params.get("contactname") or ""),
            "email": str(params.get("email") or ""),
            "autodiagnotifications": as_bool(params.get("autodiagnotifications")),
        },
        "created": now,
    }
    await services.store.create_account(row)
    return render_account(row)


async def update_account(services: Services, row: Row, params: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    settings = dict(row["settings"])
    if "accountsupressall" in params:
        settings["accountsupressall"] = as_bool(params["accountsupressall"])
    if isinstance(params.get("name"), str) and params["name"].strip():
        values["name"] = params["name"].strip()
    if params.get("timezone") not in (None, ""):
        values["timezone"] = str(params["timezone"])
    if params.get("location") not in (None, ""):
        values["default_locations"] = _location(params["location"])
    if params.get("status") not in (None, ""):
        if params["status"] not in ("Active", "Suspend"):
            raise ApiError("Invalid status: must be Active or Suspend")
        values["status"] = params["status"]
    for flag in ("emailme", "autodiagnotifications"):
        if flag in params:
            settings[flag] = as_bool(params[flag])
    values["settings"] = settings
    await services.store.update_account(row["id"], values)
    return render_account({**row, **values})
