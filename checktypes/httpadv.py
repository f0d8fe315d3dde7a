"""HTTPADV: HTTP(S) request with method, headers and body; status, header and content checks."""

from __future__ import annotations

from typing import Annotated, Literal

import aiohttp
from pydantic import BeforeValidator

from checktypes import _http
from checktypes._common import Headers, StatusCode, upper_enum
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, StrIsh, require_http_url

NAME = "HTTPADV"


class Params(CheckParams):
    method: Annotated[
        Literal["GET", "POST", "PUT", "HEAD", "TRACE", "CONNECT", "DELETE"], BeforeValidator(upper_enum)
    ] = "GET"
    statuscode: StatusCode | None = None
    """The exact status expected; absent = any 2xx/3xx."""
    sendheaders: Headers | None = None
    receiveheaders: Headers | None = None
    """Headers the response must carry (name and value compared case-insensitively)."""
    data: Headers | None = None
    """A form body (``application/x-www-form-urlencoded``)."""
    postdata: StrIsh | None = None
    """A raw body, used when ``data`` is empty."""
    contentstring: StrIsh | None = None
    regex: BoolIsh = False
    invert: BoolIsh = False
    follow: BoolIsh = False
    """Follow up to 4 redirects (GET only)."""
    ipv6: BoolIsh = False
    clientcert: StrIsh | None = None
    """Id of a client certificate for mutual TLS: the PEM file ``$VEDETTE_CLIENT_CERTS_DIR/<id>.pem``."""

    @classmethod
    def check_target(cls, target: str) -> str:
        return require_http_url(target)


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    url = _http.parse_target(ctx.target)
    headers = _http.request_headers(ctx, params.sendheaders)
    tls = await _http.client_cert_context(params.clientcert) if params.clientcert else None
    watch = _http.Stopwatch(ctx)
    text: str | None = None
    try:
        async with _http.request(
            url,
            headers,
            method=params.method,
            form=params.data,
            body=params.postdata,
            follow=params.follow and params.method == "GET",
            ipv6=params.ipv6,
            tls=tls,
            compressed=bool(params.contentstring),
        ) as response:
            status = response.status
            failure = _status_failure(status, params.statuscode) or _header_failures(
                response, params.receiveheaders
            )
            if failure is None and params.contentstring:
                text = _http.body_text(response, await _http.read_body(response))
    except _http.HTTPDown as down:
        return down.result()
    # In the AGENT's order: time, status, headers, content.
    if watch.too_slow():
        return CheckResult.down("Timeout", "Timeout")
    if failure is not None:
        return CheckResult.down(status, failure)
    if params.contentstring and text is not None:
        return _http.content_result(status, text, params.contentstring, params.regex, params.invert)
    return CheckResult.up(status, "Success")


def _status_failure(status: int, expected: int | None) -> str | None:
    if expected is not None:
        return None if status == expected else f"HTTP status received: {status} expected: {expected}"
    return None if 200 <= status <= 399 else f"HTTP status returned: {status}"


def _header_failures(response: aiohttp.ClientResponse, expected: Headers | None) -> str | None:
    """Every listed header must be present with an equal value (both case-insensitive; the first value)."""
    failures = ""
    for name, value in (expected or {}).items():
        received = response.headers.get(name)
        if received is None:
            failures += f" HTTP header missing: {name}. "
        elif received.strip().lower() != value.strip().lower():
            failures += f" HTTP header {name} mismatch: {received}. "
    return failures.strip() or None
