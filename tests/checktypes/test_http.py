"""HTTP against real aiohttp servers on 127.0.0.1 (plain and TLS with a trustme certificate), and raw
asyncio servers for what aiohttp would never send (interim responses, broken status lines, early close)."""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import trustme
from aiohttp import web
from servers.checkrun import expect, expect_prefix
from servers.httpd import (
    SEEN,
    check,
    read_request,
    recording_app,
    redirect_hops,
    serve,
    serve_raw,
    stepping_clock,
)

from prober.registry import CheckType, load_registry
from prober.runner import validation_message


@pytest.fixture(scope="module")
def http() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.http"]).get("HTTP")


# --- the server ---------------------------------------------------------------------------------


def make_app() -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/")
    async def index(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    @routes.get("/moved")
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/")

    @routes.get("/absolute")
    async def absolute(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.url.origin().with_path("/")))

    routes.get("/hops/{count:\\d+}")(redirect_hops)

    @routes.get("/dir/page")
    async def relative(request: web.Request) -> web.Response:
        raise web.HTTPFound("other")  # relative to the current URL: /dir/other

    @routes.get("/dir/other")
    async def other(request: web.Request) -> web.Response:
        return web.Response(text="other")

    @routes.get("/status/{code:\\d+}")
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    @routes.get("/slow")
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.Response(text="late")

    @routes.get("/large")
    async def large(request: web.Request) -> web.StreamResponse:
        # A body far bigger than the check would ever want to read.
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"x" * 65536)
        return response

    return recording_app(routes)  # app[SEEN]: the headers of every request, in order


@pytest.fixture(scope="module")
def tls_server_context() -> ssl.SSLContext:
    """A certificate from a private CA the client has never heard of (verification is off)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def app() -> web.Application:
    return make_app()


@pytest_asyncio.fixture(loop_scope="function")
async def tls_base(app: web.Application, tls_server_context: ssl.SSLContext) -> AsyncIterator[str]:
    async with serve(app, tls_server_context) as url:
        yield url


# --- up -------------------------------------------------------------------------------------------


async def test_200_is_up(http: CheckType, base: str) -> None:
    result = await check(http, f"{base}/")
    expect(result, "up", 200, "Success")
    assert result.duration_ms > 0


async def test_3xx_passes_when_follow_is_off(http: CheckType, base: str, app: web.Application) -> None:
    expect(await check(http, f"{base}/moved"), "up", 301, "Success")
    assert len(app[SEEN]) == 1  # the redirect was not followed


async def test_follow_reaches_the_final_200(http: CheckType, base: str, app: web.Application) -> None:
    expect(await check(http, f"{base}/moved", follow=True), "up", 200, "Success")
    assert len(app[SEEN]) == 2


async def test_follow_absolute_location(http: CheckType, base: str) -> None:
    expect(await check(http, f"{base}/absolute", follow="true"), "up", 200, "Success")


async def test_follow_relative_location(http: CheckType, base: str, app: web.Application) -> None:
    expect(await check(http, f"{base}/dir/page", follow=True), "up", 200, "Success")
    assert len(app[SEEN]) == 2


async def test_four_redirects_are_followed(http: CheckType, base: str, app: web.Application) -> None:
    expect(await check(http, f"{base}/hops/4", follow=True), "up", 200, "Success")
    assert len(app[SEEN]) == 5


async def test_follow_on_a_200_is_just_a_200(http: CheckType, base: str) -> None:
    expect(await check(http, f"{base}/", follow=True), "up", 200, "Success")


async def test_398_passes(http: CheckType, base: str) -> None:
    expect(await check(http, f"{base}/status/398"), "up", 398, "Success")


async def test_body_is_not_read(http: CheckType, base: str) -> None:
    expect(await check(http, f"{base}/large"), "up", 200, "Success")


async def test_self_signed_tls_is_still_up(http: CheckType, tls_base: str) -> None:
    expect(await check(http, f"{tls_base}/"), "up", 200, "Success")


async def test_tls_redirect_is_followed(http: CheckType, tls_base: str) -> None:
    expect(await check(http, f"{tls_base}/hops/2", follow=True), "up", 200, "Success")


async def test_headers_on_the_wire(http: CheckType, base: str, app: web.Application) -> None:
    await check(http, f"{base}/")
    headers = app[SEEN][0]
    assert headers["User-Agent"] == "Vedette/test"
    assert headers["Accept"] == "*/*"
    assert headers["Host"] == base.removeprefix("http://")
    assert "Authorization" not in headers


async def test_userinfo_becomes_basic_auth(http: CheckType, base: str, app: web.Application) -> None:
    target = base.replace("http://", "http://alice:s%40cret@") + "/"
    expect(await check(http, target), "up", 200, "Success")
    expected = "Basic " + base64.b64encode(b"alice:s@cret").decode()
    assert app[SEEN][0]["Authorization"] == expected


async def test_userinfo_survives_a_relative_redirect(
    http: CheckType, base: str, app: web.Application
) -> None:
    target = base.replace("http://", "http://alice:pw@") + "/hops/1"
    expect(await check(http, target, follow=True), "up", 200, "Success")
    assert [h.get("Authorization") for h in app[SEEN]] == [
        "Basic " + base64.b64encode(b"alice:pw").decode()
    ] * 2


# --- down -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [400, 404, 500, 503, 399])
async def test_other_status_is_down(http: CheckType, base: str, code: int) -> None:
    expect(await check(http, f"{base}/status/{code}"), "down", code, f"HTTP status returned: {code}")


async def test_follow_to_an_error_status(http: CheckType, base: str) -> None:
    # The last hop's status is what counts.
    expect(await check(http, f"{base}/status/503", follow=True), "down", 503, "HTTP status returned: 503")


async def test_too_many_redirects(http: CheckType, base: str, app: web.Application) -> None:
    expect(await check(http, f"{base}/hops/5", follow=True), "down", 302, "Too many redirects")
    assert len(app[SEEN]) == 5  # the first request and four redirects, no more


async def test_refused_port_is_down(http: CheckType, closed_port: int) -> None:
    result = await check(http, f"http://127.0.0.1:{closed_port}/")
    expect(result, "down", "Error", f"Cannot connect to 127.0.0.1:{closed_port}: Connection refused")


async def test_tls_to_a_plain_server_is_a_tls_error(http: CheckType, base: str) -> None:
    result = await check(http, base.replace("http://", "https://") + "/")
    expect_prefix(result, "down", "Error", "TLS error: ")


async def test_unresolvable_host_is_down(http: CheckType) -> None:
    result = await check(http, "http://no-such-host.invalid/")
    assert (result.status, result.code) == ("down", "Error")
    assert "no-such-host.invalid" in result.message


async def test_ipv6_refuses_an_ipv4_literal(http: CheckType, base: str) -> None:
    result = await check(http, f"{base}/", ipv6=True)
    expect(result, "down", "Error", "No addresses found for 127.0.0.1")


async def test_slow_response_times_out(http: CheckType, base: str) -> None:
    started = time.monotonic()
    expect(await check(http, f"{base}/slow", threshold=1), "down", "Timeout", "Timeout")
    assert time.monotonic() - started < 1.4


async def test_response_slower_than_threshold_fails_even_when_it_arrived(http: CheckType, base: str) -> None:
    # A clock that advances 2 s per reading: the 200 arrives, but "after" the 1 s threshold.
    result = await check(http, f"{base}/", threshold=1, clock=stepping_clock())
    expect(result, "down", "Timeout", "Timeout")


async def test_ipv6_against_loopback(http: CheckType, app: web.Application) -> None:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "::1", 0)
        try:
            await site.start()
        except OSError:
            pytest.skip("::1 is not bindable here")
        port = runner.addresses[0][1]
        expect(await check(http, f"http://[::1]:{port}/", ipv6=True), "up", 200, "Success")
    finally:
        await runner.cleanup()


# --- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "Missing URL"),
        ("ftp://example.com/", "Invalid or missing protocol for HTTP"),
        ("example.com", "Invalid or missing protocol for HTTP"),
        ("http:///path", "Invalid URL - missing hostname"),
    ],
)
async def test_unusable_target_is_a_config_error(http: CheckType, target: str, message: str) -> None:
    result = await check(http, target)
    assert (result.status, result.message, result.config_error) == ("down", message, True)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"ipv6": False, "follow": False}),
        ({"follow": True}, {"ipv6": False, "follow": True}),
        ({"follow": "true", "ipv6": "False"}, {"ipv6": False, "follow": True}),
        ({"follow": 1, "ipv6": "1"}, {"ipv6": True, "follow": True}),
        ({"follow": "inactive"}, {"ipv6": False, "follow": False}),
    ],
)
def test_valid_params(http: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert http.params.model_validate(params).model_dump() == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"follow": "maybe"}, "follow: Input should be a valid boolean, unable to interpret input"),
        ({"ipv6": 2}, "ipv6: Input should be a valid boolean, unable to interpret input"),
        ({"port": 80}, "port: Extra inputs are not permitted"),
        ({"contentstring": "x"}, "contentstring: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(http: CheckType, params: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as excinfo:
        http.params.model_validate(params)
    assert validation_message(excinfo.value) == message


async def test_invalid_params_through_the_runner(http: CheckType, base: str) -> None:
    result = await check(http, f"{base}/", follow="maybe")
    assert result.config_error
    assert result.message.startswith("Invalid parameters: follow: ")


@pytest.mark.parametrize(
    "target", ["http://example.com/", "https://example.com:8443/x?y=1", "HTTP://EXAMPLE.COM"]
)
def test_target_accepts_http_urls(http: CheckType, target: str) -> None:
    assert http.params.check_target(target) == target


@pytest.mark.parametrize("target", ["example.com", "ftp://example.com/", "httpx://a", ""])
def test_target_rejects_other_schemes(http: CheckType, target: str) -> None:
    with pytest.raises(ValueError, match=r"^Target must begin with http:// or https://$"):
        http.params.check_target(target)


# --- the lean status reader against raw servers -------------------------------------------------------


def canned(response: bytes, *, close: bool = True) -> Any:
    """A raw handler that answers every request with ``response`` (and then waits, unless ``close``)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response)
        await writer.drain()
        if not close:
            await asyncio.sleep(30)

    return handle


@pytest.mark.parametrize(
    ("response", "status", "code", "message"),
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", "up", 204, "Success"),
        (b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody", "up", 200, "Success"),
        (b"HTTP/1.1 200\r\n\r\n", "up", 200, "Success"),  # no reason phrase
        (b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "up", 200, "Success"),  # bare LF line ends
        (b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", "up", 200, "Success"),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n", "down", 500, "HTTP status returned: 500"),
        (b"", "down", "Error", "Server disconnected"),
        (b"HTTP/1.1 200 OK\r\nX-A: b\r\n", "down", "Error", "Server disconnected"),
        (
            b"SSH-2.0-OpenSSH_9.2\r\n",
            "down",
            "Error",
            "Invalid HTTP response: bad status line b'SSH-2.0-OpenSSH_9.2\\r\\n'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"x" * 70000 + b"\r\n\r\n",
            "down",
            "Error",
            "Invalid HTTP response: headers too long",
        ),
        (
            b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 300 + b"\r\n",
            "down",
            "Error",
            "Invalid HTTP response: too many headers",
        ),
    ],
)
async def test_raw_responses(
    http: CheckType, response: bytes, status: str, code: str | int, message: str
) -> None:
    async with serve_raw(canned(response)) as port:
        expect(await check(http, f"http://127.0.0.1:{port}/"), status, code, message)


async def test_status_is_read_without_waiting_for_the_body(http: CheckType) -> None:
    # The server sends the head and keeps the connection open: the check must not wait for more.
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\npartial"
    async with serve_raw(canned(head, close=False)) as port:
        started = time.monotonic()
        expect(await check(http, f"http://127.0.0.1:{port}/", threshold=5), "up", 200, "Success")
        assert time.monotonic() - started < 1


async def test_request_on_the_wire(http: CheckType) -> None:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n")
        await writer.drain()

    async with serve_raw(handle) as port:
        await check(http, f"http://bob:pw@127.0.0.1:{port}/a%20b/c?x=1&y=%20#fragment")
    assert seen == [
        b"GET /a%20b/c?x=1&y=%20 HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{port}\r\n".encode()
        + b"Accept: */*\r\nUser-Agent: Vedette/test\r\n"
        + b"Authorization: Basic "
        + base64.b64encode(b"bob:pw")
        + b"\r\n"
        + b"Connection: close\r\n\r\n"
    ]


async def test_location_header_name_is_case_insensitive(http: CheckType, base: str) -> None:
    redirect = f"HTTP/1.1 302 Found\r\nLOCATION: {base}/\r\n\r\n".encode()
    async with serve_raw(canned(redirect)) as port:
        expect(await check(http, f"http://127.0.0.1:{port}/", follow=True), "up", 200, "Success")


async def test_invalid_redirect_location(http: CheckType) -> None:
    async with serve_raw(canned(b"HTTP/1.1 302 Found\r\nLocation: ftp://example.com/x\r\n\r\n")) as port:
        result = await check(http, f"http://127.0.0.1:{port}/", follow=True)
    expect(result, "down", "Error", "Invalid redirect URL: ftp://example.com/x")


async def test_server_that_never_answers_times_out(http: CheckType) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async with serve_raw(silent) as port:
        expect(await check(http, f"http://127.0.0.1:{port}/", threshold=1), "down", "Timeout", "Timeout")


async def test_bad_status_line_fails_without_waiting(http: CheckType) -> None:
    async with serve_raw(canned(b"220 mail.example.com ESMTP\r\n", close=False)) as port:
        started = time.monotonic()
        result = await check(http, f"http://127.0.0.1:{port}/")
        assert time.monotonic() - started < 1
    expect(
        result, "down", "Error", "Invalid HTTP response: bad status line b'220 mail.example.com ESMTP\\r\\n'"
    )


async def test_head_arriving_in_pieces(http: CheckType) -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        for piece in (
            b"HTTP/1.1 100 Contin",
            b"ue\r\n\r\nHTTP/1.1 3",
            b"01 Moved\r\nLocation: /x\r",
            b"\n\r\n",
        ):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.02)
        await asyncio.sleep(30)

    async with serve_raw(trickle) as port:
        expect(await check(http, f"http://127.0.0.1:{port}/"), "up", 301, "Success")
