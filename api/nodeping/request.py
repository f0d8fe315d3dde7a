"""Reading a NodePing-style request: parameters from every place clients put them, the token, the tenant.

Merge order (nodeping-api.md §3.1), later wins: query string, a ``json=`` query parameter, form fields
(including a form ``json=``), a raw JSON body. The token may also come as the Basic-auth username.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from api.errors import ApiError, Forbidden
from api.storage.store import Store, TokenInfo
from prober.base import coerce_bool


def as_bool(value: Any, default: bool = False) -> bool:
    """Boolean-ish values (nodeping-api.md §3.2); anything unrecognised is the default."""
    if value is None:
        return default
    coerced = coerce_bool(value)
    if isinstance(coerced, bool):
        return coerced
    if isinstance(value, int | float):
        return bool(value)
    return default


def is_empty(value: Any) -> bool:
    """Empty means unset (nodeping-api.md §3.2): clients send every optional field with a blank default."""
    return value is None or value == "" or value == [] or value == {}


def flag_present(params: dict[str, Any], name: str) -> bool:
    """``lastresult``/``current``/``uptime``: present (empty or truthy) is on; an explicit false is off."""
    if name not in params:
        return False
    value = params[name]
    if value in ("", None):
        return True
    return as_bool(value, default=True)


def _json_object(text: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("Invalid JSON") from None
    if not isinstance(value, dict):
        raise ApiError("Invalid JSON")
    return value


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    # Lenient parsing: nodeping-api does not URL-encode values, so keep blanks and take the raw string.
    for key, value in parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True):
        params[key] = value
    if isinstance(params.get("json"), str) and params["json"].strip():
        params.update(_json_object(params.pop("json")))
    body = await request.read() if request.can_read_body else b""
    if body.strip():
        content_type = request.content_type
        if content_type == "application/x-www-form-urlencoded" and not body.lstrip().startswith(b"{"):
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            embedded = form.pop("json", None)
            params.update(form)
            if embedded and embedded.strip():
                params.update(_json_object(embedded))
        else:
            params.update(_json_object(body))
    return params


def token_from(request: web.Request, params: dict[str, Any]) -> str | None:
    token = params.get("token")
    if isinstance(token, str) and token:
        return token
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.split(":", 1)[0] or None
    return None


@dataclass(frozen=True)
class Tenant:
    """Who the request acts for: the token's account, or one of its subaccounts via ``customerid``."""

    account_id: str
    token_account_id: str
    access: str

    @property
    def writable(self) -> bool:
        return self.access == "rw"


async def authenticate(request: web.Request, params: dict[str, Any], store: Store, *, write: bool) -> Tenant:
    token = token_from(request, params)
    info: TokenInfo | None = await store.authenticate(token) if token else None
    if info is None:
        raise Forbidden("Invalid token")
    if write and not info.writable:
        raise Forbidden("Insufficient permissions")
    account_id = info.account_id
    customer = params.get("customerid")
    if isinstance(customer, str) and customer and customer != info.account_id:
        sub = await store.get_account(customer)
        if sub is None or sub["parent_id"] != info.account_id:
            raise Forbidden("Invalid customerid")
        account_id = customer
    return Tenant(account_id=account_id, token_account_id=info.account_id, access=info.access)


def ids_from(request: web.Request, params: dict[str, Any]) -> list[str] | None:
    """Ids from the path (wins) or from ``id``: one id, a comma list, or a JSON array."""
    raw: Any = request.match_info.get("id") or params.get("id")
    if raw in (None, "", [], False):
        return None
    if isinstance(raw, list):
        return [str(item) for item in raw if item]
    text = str(raw).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise ApiError("Invalid id") from None
        if isinstance(parsed, list):
            return [str(item) for item in parsed if item]
    return [part.strip() for part in text.split(",") if part.strip()]
