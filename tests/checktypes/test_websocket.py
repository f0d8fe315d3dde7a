"""WEBSOCKET against real aiohttp WebSocket servers on 127.0.0.1 (ws and wss with a trustme certificate)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import trustme
from aiohttp import WSMsgType, web
from pydantic import ValidationError
from servers.checkrun import expect, expect_prefix
from servers.httpd import check, serve, server_context

from prober.registry import CheckType, load_registry
from prober.runner import validation_message

RECEIVED = web.AppKey("received", list)
"""Messages the server received, in order."""
HEADERS = web.AppKey("headers", list)


@pytest.fixture(scope="module")
def websocket() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.websocket"]).get("WEBSOCKET")


def make_app() -> web.Application:
    routes = web.RouteTableDef()

    async def accept(request: web.Request) -> web.WebSocketResponse:
        request.app[HEADERS].append(dict(request.headers))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        return ws

    @routes.get("/echo")
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = await accept(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                request.app[RECEIVED].append(message.data)
                await ws.send_str(f"echo: {message.data}")
        return ws

    @routes.get("/greet")
    async def greet(request: web.Request) -> web.WebSocketResponse:
        ws = await accept(request)
        await ws.send_str('{"type": "welcome", "server": "vedette-test"}')
        async for _ in ws:
            pass
        return ws

    @routes.get("/binary")
    async def binary(request: web.Request) -> web.WebSocketResponse:
        ws = await accept(request)
        await ws.send_bytes(b"status=READY")
        async for _ in ws:
            pass
        return ws

    @routes.get("/bye")
    async def bye(request: web.Request) -> web.WebSocketResponse:
        ws = await accept(request)
        await ws.close()
        return ws

    @routes.get("/silent")
    async def silent(request: web.Request) -> web.WebSocketResponse:
        ws = await accept(request)
        await asyncio.sleep(30)
        return ws

    @routes.get("/page")
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="not a websocket")

    app = web.Application()
    app[RECEIVED] = []
    app[HEADERS] = []
    app.add_routes(routes)
    return app


@pytest.fixture
def app() -> web.Application:
    return make_app()


@pytest_asyncio.fixture(loop_scope="function")
async def base(app: web.Application) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url.replace("http://", "ws://")


# --- up -------------------------------------------------------------------------------------------


async def test_connect_only(websocket: CheckType, base: str, app: web.Application) -> None:
    expect(await check(websocket, f"{base}/echo"), "up", "Connected", "Success")
    assert app[HEADERS][0]["User-Agent"] == "Vedette/test"
    assert app[RECEIVED] == []


async def test_send_only(websocket: CheckType, base: str, app: web.Application) -> None:
    expect(await check(websocket, f"{base}/echo", data="ping"), "up", "Sent message", "Sent message: ping")
    for _ in range(100):  # the server reads it after the check has hung up
        if app[RECEIVED]:
            break
        await asyncio.sleep(0.01)
    assert app[RECEIVED] == ["ping"]


async def test_send_and_find_the_reply(websocket: CheckType, base: str) -> None:
    expect(
        await check(websocket, f"{base}/echo", data="ping", contentstring="echo: ping"),
        "up",
        "Found",
        "Found",
    )


async def test_json_data_is_sent_as_json_text(websocket: CheckType, base: str, app: web.Application) -> None:
    result = await check(websocket, f"{base}/echo", data={"op": "status"}, contentstring='{"op":"status"}')
    expect(result, "up", "Found", "Found")
    assert app[RECEIVED] == ['{"op":"status"}']


async def test_first_message_without_sending(websocket: CheckType, base: str) -> None:
    expect(await check(websocket, f"{base}/greet", contentstring='"welcome"'), "up", "Found", "Found")


async def test_binary_message_is_searched_as_text(websocket: CheckType, base: str) -> None:
    expect(await check(websocket, f"{base}/binary", contentstring="READY"), "up", "Found", "Found")


async def test_invert_passes_when_absent(websocket: CheckType, base: str) -> None:
    result = await check(websocket, f"{base}/greet", contentstring="maintenance", invert="true")
    expect(result, "up", "Not found", "Not found")


async def test_wss_certificate_is_not_verified(
    websocket: CheckType, app: web.Application, web_ca: trustme.CA
) -> None:
    async with serve(app, server_context(web_ca)) as url:
        target = url.replace("https://", "wss://")
        expect(
            await check(websocket, f"{target}/echo", data="x", contentstring="echo: x"),
            "up",
            "Found",
            "Found",
        )


# --- down -----------------------------------------------------------------------------------------


async def test_reply_without_the_string(websocket: CheckType, base: str) -> None:
    result = await check(websocket, f"{base}/echo", data="ping", contentstring="pong")
    expect(result, "down", "Not found", "Not found")


async def test_invert_fails_when_found(websocket: CheckType, base: str) -> None:
    result = await check(websocket, f"{base}/greet", contentstring="welcome", invert=True)
    expect(result, "down", "Found", "Found")


async def test_closed_before_a_message(websocket: CheckType, base: str) -> None:
    result = await check(websocket, f"{base}/bye", contentstring="anything")
    expect(result, "down", "Error", "Connection closed before a message arrived")
    # A closed connection is no evidence of absence: invert does not turn it into a pass.
    result = await check(websocket, f"{base}/bye", contentstring="anything", invert=True)
    expect(result, "down", "Error", "Connection closed before a message arrived")


async def test_no_message_times_out(websocket: CheckType, base: str) -> None:
    expect(
        await check(websocket, f"{base}/silent", threshold=1, contentstring="x"), "down", "Timeout", "Timeout"
    )


async def test_not_a_websocket_endpoint(websocket: CheckType, base: str) -> None:
    expect(
        await check(websocket, f"{base}/page"), "down", "Error", "WebSocket handshake failed: HTTP status 200"
    )
    expect(
        await check(websocket, f"{base}/nowhere"),
        "down",
        "Error",
        "WebSocket handshake failed: HTTP status 404",
    )


async def test_refused(websocket: CheckType, closed_port: int) -> None:
    result = await check(websocket, f"ws://127.0.0.1:{closed_port}/")
    expect(result, "down", "Error", f"Cannot connect to 127.0.0.1:{closed_port}: Connection refused")


async def test_wss_to_a_plain_server_is_a_tls_error(websocket: CheckType, base: str) -> None:
    result = await check(websocket, base.replace("ws://", "wss://") + "/echo")
    expect_prefix(result, "down", "Error", "TLS error: ")


async def test_send_error(websocket: CheckType, base: str, app: web.Application) -> None:
    # A lone surrogate (JSON "\\ud800" arrives as one) cannot be sent as UTF-8 text.
    result = await check(websocket, f"{base}/echo", data="bad \ud800", contentstring="x")
    assert (result.status, result.code) == ("down", "Error")
    assert result.message.startswith("Error sending data: 'utf-8' codec can't encode character"), (
        result.message
    )
    assert app[RECEIVED] == []


# --- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "Missing URL"),
        (
            "https://example.com/socket.io/",
            "Socket.IO endpoints (http:// and https://) are not supported: use a ws:// or wss:// URL",
        ),
        ("ftp://example.com/", 'Protocol must be "ws://" or "wss://"'),
        ("ws:///path", "Invalid URL - missing hostname"),
    ],
)
async def test_unusable_target(websocket: CheckType, target: str, message: str) -> None:
    result = await check(websocket, target)
    assert (result.status, result.message, result.config_error) == ("down", message, True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"invert": "no way"}, "invert: Input should be a valid boolean, unable to interpret input"),
        ({"contentstring": {"a": 1}}, "contentstring: Input should be a valid string"),
        ({"regex": True}, "regex: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(websocket: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        websocket.params.model_validate(params)
    assert validation_message(excinfo.value) == message
