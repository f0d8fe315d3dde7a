"""HTTPCONTENT against a real aiohttp server on 127.0.0.1: content, regex, invert, redirects, compression, limits."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError
from servers.checkrun import expect
from servers.httpd import SEEN, check, recording_app, redirect_hops, serve, server_context, stepping_clock

from prober.registry import CheckType, load_registry
from prober.runner import validation_message

MB3 = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def httpcontent() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.httpcontent"]).get("HTTPCONTENT")


def make_app() -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/")
    async def index(request: web.Request) -> web.Response:
        return web.Response(text="<h1>Welcome to Vedette</h1> status: all good")

    @routes.get("/moved")
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    routes.get("/hops/{count:\\d+}")(redirect_hops)

    @routes.get("/status/{code:\\d+}")
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="Welcome anyway")

    @routes.get("/gzip")
    async def gzipped(request: web.Request) -> web.Response:
        body = gzip.compress(b"compressed Welcome")
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    @routes.get("/deflate")
    async def deflated(request: web.Request) -> web.Response:
        return web.Response(body=zlib.compress(b"deflated Welcome"), headers={"Content-Encoding": "deflate"})

    @routes.get("/raw-deflate")
    async def raw_deflated(request: web.Request) -> web.Response:
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body = compressor.compress(b"raw deflate Welcome") + compressor.flush()
        return web.Response(body=body, headers={"Content-Encoding": "deflate"})

    @routes.get("/bad-gzip")
    async def bad_gzip(request: web.Request) -> web.Response:
        return web.Response(body=b"not gzip at all", headers={"Content-Encoding": "gzip"})

    @routes.get("/bad-deflate")
    async def bad_deflate(request: web.Request) -> web.Response:
        return web.Response(body=b"not deflate at all", headers={"Content-Encoding": "deflate"})

    @routes.get("/gzip-bomb")
    async def bomb(request: web.Request) -> web.Response:
        body = gzip.compress(b"\0" * (MB3 + 10))  # ~3 KB on the wire, over 3 MB decoded
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    @routes.get("/exactly-3mb")
    async def exactly(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (MB3 - 7) + b"Welcome")

    @routes.get("/large")
    async def large(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (MB3 + 1))

    @routes.get("/large-chunked")
    async def large_chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(49):
            await response.write(b"x" * 65536)
        return response

    @routes.get("/latin1")
    async def latin1(request: web.Request) -> web.Response:
        return web.Response(body="Café crème".encode("latin-1"), content_type="text/plain", charset="latin-1")

    @routes.get("/slow")
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.Response(text="Welcome, late")

    return recording_app(routes)  # app[SEEN]: the headers of every request, in order


@pytest.fixture
def app() -> web.Application:
    return make_app()


# --- up -------------------------------------------------------------------------------------------


async def test_substring_found(httpcontent: CheckType, base: str, app: web.Application) -> None:
    expect(await check(httpcontent, f"{base}/", contentstring="Welcome"), "up", 200, "Success")
    assert app[SEEN][0]["Accept-Encoding"] == "gzip, deflate"
    assert app[SEEN][0]["User-Agent"] == "Vedette/test"


async def test_substring_is_case_sensitive(httpcontent: CheckType, base: str) -> None:
    expect(await check(httpcontent, f"{base}/", contentstring="welcome"), "down", 200, "Not found")


async def test_regex_found(httpcontent: CheckType, base: str) -> None:
    result = await check(httpcontent, f"{base}/", contentstring=r"status:\s+all\s+\w+$", regex="true")
    expect(result, "up", 200, "Success")


async def test_regex_metacharacters_are_literal_without_regex(httpcontent: CheckType, base: str) -> None:
    expect(await check(httpcontent, f"{base}/", contentstring="W.lcome"), "down", 200, "Not found")
    expect(await check(httpcontent, f"{base}/", contentstring="W.lcome", regex=True), "up", 200, "Success")


async def test_invert_passes_when_absent(httpcontent: CheckType, base: str) -> None:
    expect(await check(httpcontent, f"{base}/", contentstring="Error 500", invert=True), "up", 200, "Success")


async def test_without_contentstring_it_is_an_http_check(
    httpcontent: CheckType, base: str, app: web.Application
) -> None:
    expect(await check(httpcontent, f"{base}/large"), "up", 200, "Success")  # the body is not read
    expect(await check(httpcontent, f"{base}/status/500"), "down", 500, "HTTP status returned: 500")
    assert "Accept-Encoding" not in app[SEEN][0]


async def test_follow_then_match(httpcontent: CheckType, base: str, app: web.Application) -> None:
    expect(
        await check(httpcontent, f"{base}/moved", contentstring="Welcome", follow=True), "up", 200, "Success"
    )
    assert len(app[SEEN]) == 2


async def test_redirect_not_followed_matches_the_redirect_body(httpcontent: CheckType, base: str) -> None:
    # aiohttp's 302 body is "302: Found"; the page behind it is never fetched.
    expect(await check(httpcontent, f"{base}/moved", contentstring="Welcome"), "down", 302, "Not found")


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/raw-deflate"])
async def test_compressed_bodies_are_decoded(httpcontent: CheckType, base: str, path: str) -> None:
    expect(await check(httpcontent, f"{base}{path}", contentstring="Welcome"), "up", 200, "Success")


async def test_charset_is_honoured(httpcontent: CheckType, base: str) -> None:
    expect(await check(httpcontent, f"{base}/latin1", contentstring="Café crème"), "up", 200, "Success")


async def test_a_3mb_body_is_read_whole(httpcontent: CheckType, base: str) -> None:
    expect(await check(httpcontent, f"{base}/exactly-3mb", contentstring="Welcome"), "up", 200, "Success")


async def test_tls_without_verification(httpcontent: CheckType, app: web.Application, web_ca: Any) -> None:
    async with serve(app, server_context(web_ca)) as tls_base:
        expect(await check(httpcontent, f"{tls_base}/", contentstring="Welcome"), "up", 200, "Success")


# --- down -----------------------------------------------------------------------------------------


async def test_not_found(httpcontent: CheckType, base: str) -> None:
    expect(await check(httpcontent, f"{base}/", contentstring="Goodbye"), "down", 200, "Not found")


async def test_invert_fails_when_found(httpcontent: CheckType, base: str) -> None:
    expect(await check(httpcontent, f"{base}/", contentstring="Welcome", invert="true"), "down", 200, "Found")


async def test_bad_status_fails_before_the_content(httpcontent: CheckType, base: str) -> None:
    result = await check(httpcontent, f"{base}/status/503", contentstring="Welcome")
    expect(result, "down", 503, "HTTP status returned: 503")
    # ... also with invert: the status decides first.
    result = await check(httpcontent, f"{base}/status/404", contentstring="nothing", invert=True)
    expect(result, "down", 404, "HTTP status returned: 404")


async def test_too_many_redirects(httpcontent: CheckType, base: str) -> None:
    result = await check(httpcontent, f"{base}/hops/5", contentstring="arrived", follow=True)
    expect(result, "down", 302, "Too many redirects")
    result = await check(httpcontent, f"{base}/hops/4", contentstring="arrived", follow=True)
    expect(result, "up", 200, "Success")


@pytest.mark.parametrize("path", ["/large", "/large-chunked", "/gzip-bomb"])
async def test_body_over_3mb(httpcontent: CheckType, base: str, path: str) -> None:
    expect(
        await check(httpcontent, f"{base}{path}", contentstring="Welcome"),
        "down",
        200,
        "3MB file size exceeded",
    )


async def test_undecodable_gzip(httpcontent: CheckType, base: str) -> None:
    expect(
        await check(httpcontent, f"{base}/bad-gzip", contentstring="x"), "down", 200, "Unable to gunzip reply"
    )


async def test_undecodable_deflate(httpcontent: CheckType, base: str) -> None:
    result = await check(httpcontent, f"{base}/bad-deflate", contentstring="x")
    expect(result, "down", 200, "Unable to deflate reply")


async def test_refused(httpcontent: CheckType, base: str) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await check(httpcontent, f"http://127.0.0.1:{port}/", contentstring="x")
    expect(result, "down", "Error", f"Cannot connect to 127.0.0.1:{port}: Connection refused")


async def test_ipv6_refuses_an_ipv4_literal(httpcontent: CheckType, base: str) -> None:
    result = await check(httpcontent, f"{base}/", contentstring="x", ipv6=True)
    expect(result, "down", "Error", "No addresses found for 127.0.0.1")


async def test_slow_response_times_out(httpcontent: CheckType, base: str) -> None:
    expect(
        await check(httpcontent, f"{base}/slow", threshold=1, contentstring="Welcome"),
        "down",
        "Timeout",
        "Timeout",
    )


async def test_response_slower_than_threshold_fails(httpcontent: CheckType, base: str) -> None:
    result = await check(
        httpcontent, f"{base}/", threshold=1, clock=stepping_clock(), contentstring="Welcome"
    )
    expect(result, "down", "Timeout", "Timeout")


async def test_invalid_regex_is_a_config_error(httpcontent: CheckType, base: str) -> None:
    result = await check(httpcontent, f"{base}/", contentstring="(unclosed", regex=True)
    assert (result.status, result.config_error) == ("down", True)
    assert result.message.startswith("Invalid regular expression: missing ), unterminated subpattern")


# --- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "Missing URL"),
        ("ftp://example.com/", "Invalid or missing protocol for HTTP"),
        ("http:///x", "Invalid URL - missing hostname"),
    ],
)
async def test_unusable_target(httpcontent: CheckType, target: str, message: str) -> None:
    result = await check(httpcontent, target, contentstring="x")
    assert (result.status, result.message, result.config_error) == ("down", message, True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"regex": "perhaps"}, "regex: Input should be a valid boolean, unable to interpret input"),
        ({"invert": 7}, "invert: Input should be a valid boolean, unable to interpret input"),
        ({"contentstring": ["a"]}, "contentstring: Input should be a valid string"),
        ({"method": "POST"}, "method: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(httpcontent: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        httpcontent.params.model_validate(params)
    assert validation_message(excinfo.value) == message


def test_numeric_contentstring_becomes_text(httpcontent: CheckType) -> None:
    assert httpcontent.params.model_validate({"contentstring": 404}).model_dump()["contentstring"] == "404"
