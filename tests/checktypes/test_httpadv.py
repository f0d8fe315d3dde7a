"""HTTPADV against real aiohttp servers on 127.0.0.1: methods, bodies, headers, status, content, mutual TLS."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
import trustme
from aiohttp import web
from pydantic import ValidationError
from servers.checkrun import expect
from servers.common import make_daemon_dir
from servers.httpd import SEEN, check, recording_app, redirect_hops, serve, server_context, stepping_clock

from prober.registry import CheckType, load_registry
from prober.runner import validation_message


@pytest.fixture(scope="module")
def httpadv() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.httpadv"]).get("HTTPADV")


def make_app() -> web.Application:
    routes = web.RouteTableDef()

    @routes.route("*", "/echo")
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"method": request.method}, headers={"X-Powered-By": "Vedette-Test"})

    @routes.get("/headers")
    async def headers(request: web.Request) -> web.Response:
        return web.Response(
            text="ok", headers={"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Multi": "first"}
        )

    @routes.get("/status/{code:\\d+}")
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status page")

    @routes.route("*", "/moved")
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo")

    routes.get("/hops/{count:\\d+}")(redirect_hops)

    @routes.get("/large")
    async def large(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (3 * 1024 * 1024 + 1))

    @routes.get("/slow")
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.Response(text="late")

    @routes.get("/whoami")
    async def whoami(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(item for rdn in (peer or {}).get("subject", ()) for item in rdn)
        return web.Response(text=f"client={subject.get('organizationalUnitName', 'none')}")

    return recording_app(routes, method_headers_body)


async def method_headers_body(request: web.Request) -> tuple[str, dict[str, str], bytes]:
    """What app[SEEN] holds of every request: (method, headers, body)."""
    body = await request.read()
    return request.method, dict(request.headers), body


@pytest.fixture
def app() -> web.Application:
    return make_app()


# --- methods, bodies, request headers -------------------------------------------------------------


async def test_plain_get(httpadv: CheckType, base: str, app: web.Application) -> None:
    expect(await check(httpadv, f"{base}/echo"), "up", 200, "Success")
    method, headers, body = app[SEEN][0]
    assert (method, body) == ("GET", b"")
    assert headers["User-Agent"] == "Vedette/test"
    assert "Accept-Encoding" not in headers  # no contentstring: the body is not wanted


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD", "TRACE"])
async def test_methods(httpadv: CheckType, base: str, app: web.Application, method: str) -> None:
    expect(await check(httpadv, f"{base}/echo", method=method.lower()), "up", 200, "Success")
    assert app[SEEN][0][0] == method


async def test_form_data(httpadv: CheckType, base: str, app: web.Application) -> None:
    result = await check(
        httpadv, f"{base}/echo", method="POST", data={"user": "ann", "q": "a b&c"}, postdata="ignored"
    )
    expect(result, "up", 200, "Success")
    _, headers, body = app[SEEN][0]
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert body == b"user=ann&q=a+b%26c"


async def test_postdata_is_sent_verbatim(httpadv: CheckType, base: str, app: web.Application) -> None:
    payload = '{"ping": true}'
    result = await check(
        httpadv,
        f"{base}/echo",
        method="PUT",
        postdata=payload,
        sendheaders={"Content-Type": "application/json"},
    )
    expect(result, "up", 200, "Success")
    _, headers, body = app[SEEN][0]
    assert (headers["Content-Type"], body) == ("application/json", payload.encode())


async def test_sendheaders_add_and_override(httpadv: CheckType, base: str, app: web.Application) -> None:
    sendheaders = {"X-Api-Key": "k1", "user-agent": "Custom/1.0", "Accept": "application/json"}
    expect(await check(httpadv, f"{base}/echo", sendheaders=sendheaders), "up", 200, "Success")
    headers = app[SEEN][0][1]
    assert (headers["X-Api-Key"], headers["User-Agent"], headers["Accept"]) == (
        "k1",
        "Custom/1.0",
        "application/json",
    )


async def test_header_injection_is_a_config_error(httpadv: CheckType, base: str) -> None:
    result = await check(httpadv, f"{base}/echo", sendheaders={"X-A": "b\r\nX-Evil: 1"})
    assert (result.status, result.config_error, result.message) == ("down", True, "Invalid header: 'X-A'")


# --- status -----------------------------------------------------------------------------------------


async def test_expected_status_matches(httpadv: CheckType, base: str) -> None:
    expect(await check(httpadv, f"{base}/status/201", statuscode="201"), "up", 201, "Success")
    expect(await check(httpadv, f"{base}/status/404", statuscode=404), "up", 404, "Success")


async def test_expected_status_mismatch(httpadv: CheckType, base: str) -> None:
    result = await check(httpadv, f"{base}/status/200", statuscode=201)
    expect(result, "down", 200, "HTTP status received: 200 expected: 201")


@pytest.mark.parametrize(
    ("code", "status"), [(204, "up"), (302, "up"), (399, "up"), (400, "down"), (500, "down")]
)
async def test_default_accepts_2xx_and_3xx(httpadv: CheckType, base: str, code: int, status: str) -> None:
    result = await check(httpadv, f"{base}/status/{code}")
    expect(result, status, code, "Success" if status == "up" else f"HTTP status returned: {code}")


async def test_follow_get(httpadv: CheckType, base: str, app: web.Application) -> None:
    expect(await check(httpadv, f"{base}/moved", follow=True, statuscode=200), "up", 200, "Success")
    assert [m for m, _, _ in app[SEEN]] == ["GET", "GET"]


async def test_follow_is_for_get_only(httpadv: CheckType, base: str, app: web.Application) -> None:
    expect(await check(httpadv, f"{base}/moved", method="POST", follow=True), "up", 302, "Success")
    assert len(app[SEEN]) == 1


async def test_without_follow_the_redirect_status_counts(httpadv: CheckType, base: str) -> None:
    result = await check(httpadv, f"{base}/moved", statuscode=200)
    expect(result, "down", 302, "HTTP status received: 302 expected: 200")


async def test_too_many_redirects(httpadv: CheckType, base: str) -> None:
    expect(await check(httpadv, f"{base}/hops/5", follow=True), "down", 302, "Too many redirects")


# --- response headers -------------------------------------------------------------------------------


async def test_receiveheaders_match_case_insensitively(httpadv: CheckType, base: str) -> None:
    expected = {"x-frame-options": "deny", "CACHE-CONTROL": "No-Store"}
    expect(await check(httpadv, f"{base}/headers", receiveheaders=expected), "up", 200, "Success")


async def test_receiveheaders_missing_and_mismatch_accumulate(httpadv: CheckType, base: str) -> None:
    expected = {"X-Frame-Options": "SAMEORIGIN", "Strict-Transport-Security": "max-age=1", "X-Multi": "first"}
    result = await check(httpadv, f"{base}/headers", receiveheaders=expected)
    expect(
        result,
        "down",
        200,
        "HTTP header X-Frame-Options mismatch: DENY.  HTTP header missing: Strict-Transport-Security.",
    )


async def test_status_fails_before_headers(httpadv: CheckType, base: str) -> None:
    result = await check(httpadv, f"{base}/status/500", receiveheaders={"X-Nope": "1"})
    expect(result, "down", 500, "HTTP status returned: 500")


# --- content ----------------------------------------------------------------------------------------


async def test_content_found(httpadv: CheckType, base: str, app: web.Application) -> None:
    expect(await check(httpadv, f"{base}/echo", method="POST", contentstring='"POST"'), "up", 200, "Success")
    assert app[SEEN][0][1]["Accept-Encoding"] == "gzip, deflate"


async def test_content_not_found(httpadv: CheckType, base: str) -> None:
    expect(await check(httpadv, f"{base}/echo", contentstring="POST"), "down", 200, "Not found")


async def test_content_regex(httpadv: CheckType, base: str) -> None:
    result = await check(httpadv, f"{base}/echo", contentstring=r'"method":\s*"G[A-Z]+"', regex=1)
    expect(result, "up", 200, "Success")


async def test_content_invert(httpadv: CheckType, base: str) -> None:
    expect(await check(httpadv, f"{base}/echo", contentstring="GET", invert=True), "down", 200, "Found")
    expect(await check(httpadv, f"{base}/echo", contentstring="oops", invert=True), "up", 200, "Success")


async def test_headers_fail_before_content(httpadv: CheckType, base: str) -> None:
    result = await check(httpadv, f"{base}/headers", receiveheaders={"X-Nope": "1"}, contentstring="ok")
    expect(result, "down", 200, "HTTP header missing: X-Nope.")


async def test_body_over_3mb(httpadv: CheckType, base: str) -> None:
    expect(await check(httpadv, f"{base}/large", contentstring="y"), "down", 200, "3MB file size exceeded")


async def test_large_body_is_fine_when_not_searched(httpadv: CheckType, base: str) -> None:
    expect(await check(httpadv, f"{base}/large"), "up", 200, "Success")


# --- time, errors -------------------------------------------------------------------------------------


async def test_slow_response_times_out(httpadv: CheckType, base: str) -> None:
    expect(await check(httpadv, f"{base}/slow", threshold=1), "down", "Timeout", "Timeout")


async def test_response_slower_than_threshold_fails_first(httpadv: CheckType, base: str) -> None:
    result = await check(httpadv, f"{base}/status/500", threshold=1, clock=stepping_clock())
    expect(result, "down", "Timeout", "Timeout")


async def test_refused(httpadv: CheckType) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await check(httpadv, f"http://127.0.0.1:{port}/", method="POST", postdata="x")
    expect(result, "down", "Error", f"Cannot connect to 127.0.0.1:{port}: Connection refused")


async def test_unresolvable(httpadv: CheckType) -> None:
    result = await check(httpadv, "http://no-such-host.invalid/")
    assert (result.status, result.code) == ("down", "Error")
    assert result.message.startswith(("No DNS resolution for", "Error resolving")), result.message


# --- client certificates ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client_certs(web_ca: trustme.CA) -> Iterator[str]:
    directory = make_daemon_dir("client-certs-")
    web_ca.issue_cert(
        "probe@vedette.test", organization_unit_name="probe-1"
    ).private_key_and_cert_chain_pem.write_to_path(os.path.join(directory, "C1.pem"))
    with open(os.path.join(directory, "broken.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    try:
        yield directory
    finally:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="function")
async def mtls_base(app: web.Application, web_ca: trustme.CA) -> AsyncIterator[str]:
    """A TLS server that demands a client certificate issued by ``web_ca``."""
    context = server_context(web_ca)
    web_ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    async with serve(app, context) as url:
        yield url


async def test_client_certificate_is_presented(
    httpadv: CheckType, mtls_base: str, client_certs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEDETTE_CLIENT_CERTS_DIR", client_certs)
    result = await check(httpadv, f"{mtls_base}/whoami", clientcert="C1", contentstring="client=probe-1")
    expect(result, "up", 200, "Success")


async def test_mtls_server_without_a_client_certificate(
    httpadv: CheckType, mtls_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await check(httpadv, f"{mtls_base}/whoami")
    assert (result.status, result.code) == ("down", "Error"), result
    # TLS 1.3: the server's "certificate required" alert comes after the handshake; aiohttp reports the
    # connection as closed. (With TLS 1.2 the handshake itself fails: a TLS error.)
    assert result.message == "Server disconnected" or result.message.startswith("TLS error: "), result


@pytest.mark.parametrize(
    ("cert_id", "env", "message"),
    [
        ("C1", None, "Client certificate C1 not found: VEDETTE_CLIENT_CERTS_DIR is not set"),
        ("C2", "dir", "Client certificate C2 not found"),
        ("../C1", "dir", "Invalid client certificate id: '../C1'"),
        ("broken", "dir", "Client certificate broken is unusable: "),
    ],
)
async def test_unusable_client_certificate_is_a_config_error(
    httpadv: CheckType,
    base: str,
    client_certs: str,
    monkeypatch: pytest.MonkeyPatch,
    cert_id: str,
    env: str | None,
    message: str,
) -> None:
    if env:
        monkeypatch.setenv("VEDETTE_CLIENT_CERTS_DIR", client_certs)
    else:
        monkeypatch.delenv("VEDETTE_CLIENT_CERTS_DIR", raising=False)
    result = await check(httpadv, f"{base}/echo", clientcert=cert_id)
    assert (result.status, result.config_error) == ("down", True)
    assert result.message.startswith(message), result.message


# --- parameters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"method": "PATCH"},
            "method: Input should be 'GET', 'POST', 'PUT', 'HEAD', 'TRACE', 'CONNECT' or 'DELETE'",
        ),
        ({"statuscode": 99}, "statuscode: Input should be greater than or equal to 100"),
        (
            {"statuscode": "abc"},
            "statuscode: Input should be a valid integer, unable to parse string as an integer",
        ),
        ({"receiveheaders": "X-A: b"}, "receiveheaders: Input should be a valid dictionary"),
        ({"data": ["a"]}, "data: Input should be a valid dictionary"),
        ({"fields": {}}, "fields: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(httpadv: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        httpadv.params.model_validate(params)
    assert validation_message(excinfo.value) == message


async def test_form_data_survives_a_followed_redirect(
    httpadv: CheckType, base: str, app: web.Application
) -> None:
    result = await check(httpadv, f"{base}/moved", data={"a": "1"}, follow=True, contentstring='"GET"')
    expect(result, "up", 200, "Success")
    assert [(method, body) for method, _, body in app[SEEN]] == [("GET", b"a=1"), ("GET", b"a=1")]
