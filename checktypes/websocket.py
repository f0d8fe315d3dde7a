"""WEBSOCKET: open a ws:// or wss:// connection; optionally send a message and match the reply.

wss certificates are not verified (as in NodePing's AGENT). NodePing's AGENT treats http(s):// targets as
Socket.IO endpoints; Vedette speaks plain WebSocket only and rejects them with a clear error. Once the
outcome is known the connection is dropped without waiting for the server's close handshake, so a slow
closer cannot turn a measured result into a timeout.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import aiohttp
from pydantic import BeforeValidator
from yarl import URL

from checktypes import _http
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, coerce_str

NAME = "WEBSOCKET"

_MAX_MESSAGE = 3 * 1024 * 1024


def _message(value: Any) -> Any:
    # A JSON object or array given as the message is sent as its JSON text.
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return coerce_str(value)


class Params(CheckParams):
    data: Annotated[str, BeforeValidator(_message)] | None = None
    """A message to send once connected."""
    contentstring: Annotated[str, BeforeValidator(coerce_str)] | None = None
    """A string expected in the first message received."""
    invert: BoolIsh = False

    @classmethod
    def check_target(cls, target: str) -> str:
        if not target.lower().startswith(("ws://", "wss://")):
            raise ValueError("Target must begin with ws:// or wss://")
        return target


def _parse_target(target: str) -> URL:
    if not target:
        raise ConfigError("Missing URL")
    try:
        url = URL(target)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"Invalid URL: {exc}") from None
    if url.scheme in ("http", "https"):
        raise ConfigError(
            "Socket.IO endpoints (http:// and https://) are not supported: use a ws:// or wss:// URL"
        )
    if url.scheme not in ("ws", "wss"):
        raise ConfigError('Protocol must be "ws://" or "wss://"')
    if not url.host:
        raise ConfigError("Invalid URL - missing hostname")
    return url


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    url = _parse_target(ctx.target)
    async with _http.session() as client:
        try:
            ws = await client.ws_connect(
                url,
                headers={"User-Agent": ctx.user_agent},
                autoping=True,
                max_msg_size=_MAX_MESSAGE,
            )
        except aiohttp.WSServerHandshakeError as exc:
            return CheckResult.down("Error", f"WebSocket handshake failed: HTTP status {exc.status}")
        except (aiohttp.ClientError, OSError) as exc:
            return CheckResult.down("Error", _http.error_message(exc))
        if params.data:
            try:
                await ws.send_str(params.data)
            except (aiohttp.ClientError, OSError, UnicodeError) as exc:
                return CheckResult.down("Error", f"Error sending data: {_http.describe(exc)}")
        if not params.contentstring:
            if params.data:
                return CheckResult.up("Sent message", f"Sent message: {params.data}")
            return CheckResult.up("Connected", "Success")
        message = await ws.receive()
    if message.type == aiohttp.WSMsgType.TEXT:
        text: str = message.data
    elif message.type == aiohttp.WSMsgType.BINARY:
        text = bytes(message.data).decode("utf-8", "replace")
    elif message.type == aiohttp.WSMsgType.ERROR:
        return CheckResult.down("Error", f"WebSocket error: {_http.describe(message.data)}")
    else:  # CLOSE, CLOSING, CLOSED: nothing arrived to look into
        return CheckResult.down("Error", "Connection closed before a message arrived")
    if params.contentstring in text:
        return CheckResult.up("Found", "Found").inverted(params.invert)
    return CheckResult.down("Not found", "Not found").inverted(params.invert)
