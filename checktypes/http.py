"""HTTP: GET the URL; status 200-398 passes."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
import time

import aiohttp
from aiohttp.abc import ResolveResult
from yarl import URL

from checktypes._net import resolution_message
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, require_http_url

NAME = "HTTP"

MAX_REDIRECTS = 4
"""With ``follow``, this many redirects are followed; one more fails the check (NodePing docs)."""

# The runner owns the deadline; aiohttp's own default timers (300 s total, 30 s connect) are dead weight.
_NO_TIMEOUT = aiohttp.ClientTimeout()
# Only the status line and headers matter: never ask for a compressed body we will not read.
_SKIP_AUTO_HEADERS = ("Accept-Encoding",)
# "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)" -> "wrong version number"
_SSL_TEXT = re.compile(r"\[SSL(?:: [A-Z0-9_]+)?\] (.+?)(?: \(_ssl\.c:\d+\))?")


class Params(CheckParams):
    ipv6: BoolIsh = False
    follow: BoolIsh = False

    @classmethod
    def check_target(cls, target: str) -> str:
        return require_http_url(target)


class _IPv4FirstResolver(aiohttp.ThreadedResolver):
    """A first, AAAA when there is none; only AAAA when ``ipv6`` is set (check-types.md §2.1)."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if family == socket.AF_INET6:
            return await super().resolve(host, port, socket.AF_INET6)
        try:
            return await super().resolve(host, port, socket.AF_INET)
        except OSError:
            return await super().resolve(host, port, socket.AF_INET6)


class _TooManyRedirects(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def _parse_target(target: str) -> URL:
    """Errors before the request are configuration errors (check-types.md §4 HTTP)."""
    if not target:
        raise ConfigError("Missing URL")
    try:
        url = URL(target)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"Invalid URL: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise ConfigError("Invalid or missing protocol for HTTP")
    if not url.host:
        raise ConfigError("Invalid URL - missing hostname")
    return url


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    url = _parse_target(ctx.target)
    if params.ipv6 and _is_ipv4_literal(url.host):
        return CheckResult.down("Error", f"No addresses found for {url.host}")
    clock = ctx.monotonic or time.monotonic
    headers = {"Accept": "*/*", "User-Agent": ctx.user_agent}
    started = clock()
    # One cheap connector per run: no pooling across checks, so every run measures a fresh connection.
    connector = aiohttp.TCPConnector(
        ssl=False,  # certificate validity is the SSL check's job
        force_close=True,
        family=socket.AF_INET6 if params.ipv6 else socket.AF_UNSPEC,
        resolver=_IPv4FirstResolver(),
        use_dns_cache=False,
        limit=0,
    )
    async with aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=_NO_TIMEOUT,
        auto_decompress=False,
        skip_auto_headers=_SKIP_AUTO_HEADERS,
    ) as session:
        try:
            status = await _final_status(session, url, headers, params.follow)
        except _TooManyRedirects as exc:
            return CheckResult.down(exc.status, "Too many redirects")
        except (aiohttp.ClientError, OSError) as exc:
            return CheckResult.down("Error", _error_message(exc))
    # A response that arrived after the threshold still fails (check-types.md §2.1).
    if clock() - started > ctx.threshold:
        return CheckResult.down("Timeout", "Timeout")
    if 200 <= status <= 398:
        return CheckResult.up(status, "Success")
    return CheckResult.down(status, f"HTTP status returned: {status}")


def _is_ipv4_literal(host: str | None) -> bool:
    try:
        return ipaddress.ip_address(host or "").version == 4
    except ValueError:
        return False


async def _final_status(
    session: aiohttp.ClientSession, url: URL, headers: dict[str, str], follow: bool
) -> int:
    """GET ``url`` (following redirects when ``follow`` is set); return the last status, body unread."""
    redirects = 0
    while True:
        response = await session.get(url, headers=headers, allow_redirects=False)
        status = response.status
        location = response.headers.get("Location")
        response.close()
        if not (follow and 300 <= status <= 399 and location):
            return status
        if redirects == MAX_REDIRECTS:
            raise _TooManyRedirects(status)
        redirects += 1
        # Userinfo survives a relative redirect (same origin) and is dropped by an absolute one.
        url = url.join(URL(location))
        if url.scheme not in ("http", "https") or not url.host:
            raise aiohttp.InvalidUrlRedirectClientError(location, "Invalid redirect URL")


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return resolution_message(exc.host, exc.os_error)
    if _is_tls_error(exc):
        return f"TLS error: {_describe(exc)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"Cannot connect to {exc.host}:{exc.port}: {_describe(exc.os_error)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "Server disconnected"
    if isinstance(exc, aiohttp.InvalidUrlRedirectClientError):
        return f"Invalid redirect URL: {exc.url}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"Invalid HTTP response: {exc.message}"
    return _describe(exc)


def _is_tls_error(exc: BaseException) -> bool:
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return True
    cause = exc.__cause__ or getattr(exc, "os_error", None)
    return isinstance(cause, ssl.SSLError)


def _describe(exc: BaseException) -> str:
    """The OS reason ("Connection refused") rather than asyncio's "Connect call failed (...)"."""
    if isinstance(exc, aiohttp.ClientSSLError):
        exc = exc.os_error
    if isinstance(exc, ssl.SSLError):
        text = str(exc.strerror or exc)
        match = _SSL_TEXT.fullmatch(text)
        return match.group(1) if match else text
    if isinstance(exc, OSError) and exc.errno is not None and not isinstance(exc, aiohttp.ClientError):
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__
