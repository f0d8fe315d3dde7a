"""HTTP plumbing shared by HTTP, HTTPCONTENT, HTTPADV, HTTPPARSE, AUDIO and WEBSOCKET (check-types.md §4).

Two transports, one set of rules:

- ``final_status``: a lean HTTP/1.1 exchange over asyncio streams for the checks that only need the status
  line (HTTP; HTTPCONTENT without ``contentstring``): a new connection per run, ``Connection: close``, the
  body never read. Several times cheaper in CPU than an aiohttp session per run (bench/http_vs_blackbox.py).
- ``request``: aiohttp, for everything that sends or reads a body (methods, form data, client certificates,
  chunked and compressed bodies, streams).

Shared by both: the spec's configuration errors for the target, A-then-AAAA resolution (AAAA only with
``ipv6``), URL userinfo sent as Basic auth, certificates never verified (that is the SSL check's job), up
to ``MAX_REDIRECTS`` redirects with ``follow``, and one wording of failures. A failure that was measured
(refused, TLS, bad status, too many redirects, oversized body) is raised as ``HTTPDown`` and returned by
the plugin as ``HTTPDown.result()``.

Client certificates (HTTPADV ``clientcert``): until Vedette has a certificate store, the id names a PEM
file ``$VEDETTE_CLIENT_CERTS_DIR/<id>.pem`` holding the certificate (chain) and its unencrypted key.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ipaddress
import os
import re
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from urllib.parse import urlencode

import aiohttp
from aiohttp.abc import ResolveResult
from yarl import URL

from checktypes._net import open_connection, os_reason, resolution_message
from prober.base import CheckContext, CheckResult, ConfigError

MAX_REDIRECTS = 4
"""With ``follow``, this many redirects are followed; one more fails the check (NodePing docs)."""

BODY_LIMIT = 3 * 1024 * 1024
"""Bodies (and playlists) are read up to 3 MB, before and after gzip/deflate decoding."""
BODY_TOO_LARGE = "3MB file size exceeded"

CLIENT_CERTS_ENV = "VEDETTE_CLIENT_CERTS_DIR"

_SCHEMES = ("http", "https")
# The runner owns the deadline; aiohttp's own default timers (300 s total, 30 s connect) are dead weight.
_NO_TIMEOUT = aiohttp.ClientTimeout()
# "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)" -> "wrong version number"
_SSL_TEXT = re.compile(r"\[SSL(?:: [A-Z0-9_]+)?\] (.+?)(?: \(_ssl\.c:\d+\))?")
_STATUS_LINE = re.compile(rb"HTTP/\d\.\d[ \t]+(\d{3})(?:[ \t][^\r\n]*)?\r?\n")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_HEAD_LIMIT = 64 * 1024
_MAX_HEADER_LINES = 256
_CERT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_BAD_HEADER_TEXT = re.compile(r"[\r\n\x00]")


class HTTPDown(Exception):
    """A measured failure: the check is down with ``code`` (``sc``) and ``message`` (``m``)."""

    def __init__(self, code: str | int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def result(self) -> CheckResult:
        return CheckResult.down(self.code, self.message)


# --- what every HTTP-family run does first ----------------------------------------------------------


def parse_target(target: str) -> URL:
    """Errors before the request are configuration errors (check-types.md §4 HTTP)."""
    if not target:
        raise ConfigError("Missing URL")
    try:
        url = URL(target)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"Invalid URL: {exc}") from None
    if url.scheme not in _SCHEMES:
        raise ConfigError("Invalid or missing protocol for HTTP")
    if not url.host:
        raise ConfigError("Invalid URL - missing hostname")
    return url


def refuse_ipv4_literal(url: URL, ipv6: bool) -> None:
    """With ``ipv6`` only AAAA counts, so an IPv4 literal has no usable address."""
    if ipv6 and _is_ipv4_literal(url.host):
        raise HTTPDown("Error", f"No addresses found for {url.host}")


def _is_ipv4_literal(host: str | None) -> bool:
    try:
        return ipaddress.ip_address(host or "").version == 4
    except ValueError:
        return False


class Stopwatch:
    """A response that arrived after ``threshold`` seconds still fails (check-types.md §2.1)."""

    def __init__(self, ctx: CheckContext) -> None:
        self._clock = ctx.monotonic or time.monotonic
        self._threshold = ctx.threshold
        self._started = self._clock()

    def too_slow(self) -> bool:
        return self._clock() - self._started > self._threshold


def status_result(status: int, watch: Stopwatch) -> CheckResult:
    """HTTP's verdict on a final status: 200-398 passes, unless the answer came after ``threshold``."""
    if watch.too_slow():
        return CheckResult.down("Timeout", "Timeout")
    if 200 <= status <= 398:
        return CheckResult.up(status, "Success")
    return CheckResult.down(status, f"HTTP status returned: {status}")


def next_url(url: URL, status: int, location: str | None, follow: bool, redirects: int) -> URL | None:
    """Where a redirect leads when it is to be followed; None when ``status`` is the final answer."""
    if not (follow and 300 <= status <= 399 and location):
        return None
    if redirects == MAX_REDIRECTS:
        raise HTTPDown(status, "Too many redirects")
    # Relative to the current URL; userinfo survives a relative redirect and is dropped by an absolute one.
    try:
        target = url.join(URL(location))
    except (ValueError, TypeError):
        target = None
    if target is None or target.scheme not in _SCHEMES or not target.host:
        raise HTTPDown("Error", f"Invalid redirect URL: {location}")
    return target


@functools.cache
def insecure_context() -> ssl.SSLContext:
    """A client context that accepts any certificate; shared, since building one loads nothing."""
    return _new_insecure_context()


def _new_insecure_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.options |= ssl.OP_NO_COMPRESSION
    context.set_alpn_protocols(["http/1.1"])
    return context


async def client_cert_context(cert_id: str) -> ssl.SSLContext:
    """An unverifying context that presents the client certificate ``cert_id`` (see the module docs)."""
    directory = os.environ.get(CLIENT_CERTS_ENV, "")
    if not directory:
        raise ConfigError(f"Client certificate {cert_id} not found: {CLIENT_CERTS_ENV} is not set")
    if not _CERT_ID.fullmatch(cert_id):
        raise ConfigError(f"Invalid client certificate id: {cert_id!r}")
    path = os.path.join(directory, f"{cert_id}.pem")
    context = _new_insecure_context()
    try:
        # A file read: off the event loop. The callback keeps OpenSSL from prompting for a passphrase.
        await asyncio.to_thread(context.load_cert_chain, path, None, _no_passphrase)
    except FileNotFoundError:
        raise ConfigError(f"Client certificate {cert_id} not found") from None
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"Client certificate {cert_id} is unusable: {describe(exc)}") from None
    return context


def _no_passphrase() -> bytes:
    return b""


def request_headers(ctx: CheckContext, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``Accept: */*`` and the probe's ``User-Agent``, overridden by ``sendheaders`` (any case)."""
    headers = {"Accept": "*/*", "User-Agent": ctx.user_agent}
    for name, value in (extra or {}).items():
        if not name or _BAD_HEADER_TEXT.search(name) or _BAD_HEADER_TEXT.search(value) or ":" in name:
            raise ConfigError(f"Invalid header: {name!r}")
        for known in [key for key in headers if key.lower() == name.lower()]:
            del headers[known]
        headers[name] = value
    return headers


# --- the lean transport: status line and headers only -----------------------------------------------


async def final_status(url: URL, ctx: CheckContext, *, follow: bool, ipv6: bool) -> int:
    """GET ``url`` (following redirects with ``follow``) and return the last status; bodies are not read."""
    refuse_ipv4_literal(url, ipv6)
    user_agent = _BAD_HEADER_TEXT.sub(" ", ctx.user_agent)
    redirects = 0
    while True:
        status, location = await _status_exchange(url, user_agent, ipv6)
        following = next_url(url, status, location, follow, redirects)
        if following is None:
            return status
        url = following
        redirects += 1


async def _status_exchange(url: URL, user_agent: str, ipv6: bool) -> tuple[int, str | None]:
    host = url.raw_host or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    tls = insecure_context() if url.scheme == "https" else None
    lines = [
        f"GET {url.raw_path_qs} HTTP/1.1",
        f"Host: {url.host_port_subcomponent}",
        "Accept: */*",
        f"User-Agent: {user_agent}",
    ]
    if url.user:
        lines.append(f"Authorization: {_basic_auth(url)}")
    lines.append("Connection: close\r\n\r\n")
    try:
        reader, writer = await open_connection(
            host, port, ipv6=ipv6, ssl_context=tls, server_hostname=host, limit=_HEAD_LIMIT
        )
    except socket.gaierror as exc:
        raise HTTPDown("Error", resolution_message(url.host or host, exc)) from None
    except ssl.SSLError as exc:
        raise HTTPDown("Error", f"TLS error: {describe(exc)}") from None
    except OSError as exc:
        raise HTTPDown("Error", f"Cannot connect to {url.host}:{port}: {os_reason(exc)}") from None
    try:
        writer.write("\r\n".join(lines).encode("latin-1", "replace"))
        return await _read_status(reader)
    except ssl.SSLError as exc:
        raise HTTPDown("Error", f"TLS error: {describe(exc)}") from None
    except OSError as exc:
        raise HTTPDown("Error", os_reason(exc)) from None
    finally:
        writer.transport.abort()  # Connection: close, and the body is of no interest


async def _read_status(reader: asyncio.StreamReader) -> tuple[int, str | None]:
    """The final status and Location of a response; usually one read, whatever the number of headers."""
    buffer = b""
    while True:
        chunk = await reader.read(_HEAD_LIMIT)
        if not chunk:
            raise HTTPDown("Error", "Server disconnected")
        buffer += chunk
        answer = _final_head(buffer)
        if answer is not None:
            return answer


def _final_head(buffer: bytes) -> tuple[int, str | None] | None:
    """Status and Location of the final response in ``buffer``; None while its head is incomplete.

    Interim 1xx responses (100 Continue, 103 Early Hints) are skipped; bare LF line ends are accepted.
    """
    while True:
        line_end = buffer.find(b"\n")
        if line_end < 0:
            if len(buffer) > _HEAD_LIMIT:
                raise HTTPDown("Error", "Invalid HTTP response: headers too long")
            return None
        status_line = _STATUS_LINE.fullmatch(buffer[: line_end + 1])
        if status_line is None:  # fail at once, without waiting for a blank line that may never come
            raise HTTPDown("Error", f"Invalid HTTP response: bad status line {buffer[: line_end + 1][:80]!r}")
        head_end = _HEAD_END.search(buffer)
        if head_end is None or head_end.end() > _HEAD_LIMIT:
            if len(buffer) > _HEAD_LIMIT:
                raise HTTPDown("Error", "Invalid HTTP response: headers too long")
            return None
        block = buffer[line_end + 1 : head_end.start()] if head_end.start() > line_end else b""
        lines = block.split(b"\n") if block else []
        if len(lines) > _MAX_HEADER_LINES:
            raise HTTPDown("Error", "Invalid HTTP response: too many headers")
        status = int(status_line.group(1))
        if 100 <= status <= 199 and status != 101:
            buffer = buffer[head_end.end() :]
            continue
        location = next((line[9:].strip() for line in lines if line[:9].lower() == b"location:"), None)
        return status, None if location is None else location.decode("utf-8", "replace")


def _basic_auth(url: URL) -> str:
    credentials = f"{url.user}:{url.password or ''}".encode()
    return "Basic " + base64.b64encode(credentials).decode("ascii")


# --- the full transport: aiohttp --------------------------------------------------------------------


class IPv4FirstResolver(aiohttp.ThreadedResolver):
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


@asynccontextmanager
async def session(
    *, ipv6: bool = False, tls: ssl.SSLContext | None = None
) -> AsyncIterator[aiohttp.ClientSession]:
    """One cheap session per run: no pooling across checks, so every run measures a fresh connection."""
    connector = aiohttp.TCPConnector(
        ssl=tls or insecure_context(),
        force_close=True,
        family=socket.AF_INET6 if ipv6 else socket.AF_UNSPEC,
        resolver=IPv4FirstResolver(),
        use_dns_cache=False,
        limit=0,
    )
    client = aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=_NO_TIMEOUT,
        auto_decompress=False,  # read_body decodes, so its limits and error messages apply
        skip_auto_headers=("Accept-Encoding",),
    )
    try:
        yield client
    finally:
        # The outcome is known: do not wait for a TLS close handshake the server may never answer.
        await connector.close(abort_ssl=True)
        await client.close()


@asynccontextmanager
async def request(
    url: URL,
    headers: Mapping[str, str],
    *,
    method: str = "GET",
    form: Mapping[str, str] | None = None,
    body: str | None = None,
    follow: bool = False,
    ipv6: bool = False,
    tls: ssl.SSLContext | None = None,
    compressed: bool = False,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """Send one request (following redirects with ``follow``, GET only) and yield the final response.

    ``form`` is sent urlencoded; otherwise ``body`` verbatim. ``compressed`` asks for gzip/deflate.
    Connection, TLS and protocol errors, also while the caller reads the body, become ``HTTPDown``.
    """
    refuse_ipv4_literal(url, ipv6)
    headers = dict(headers)
    if compressed and not any(name.lower() == "accept-encoding" for name in headers):
        headers["Accept-Encoding"] = "gzip, deflate"
    data: bytes | None = None
    if form:  # encoded here, not as aiohttp.FormData, which can be sent only once (redirects)
        data = urlencode(form).encode()
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body:
        data = body.encode()
    async with session(ipv6=ipv6, tls=tls) as client:
        try:
            redirects = 0
            while True:
                response = await client.request(
                    method, url, headers=headers, data=data, allow_redirects=False
                )
                location = response.headers.get("Location")
                try:
                    following = next_url(url, response.status, location, follow, redirects)
                except HTTPDown:
                    response.close()
                    raise
                if following is None:
                    break
                response.close()
                url = following
                redirects += 1
            try:
                yield response
            finally:
                response.close()
        except (aiohttp.ClientError, OSError) as exc:
            raise HTTPDown("Error", error_message(exc)) from None


async def read_body(response: aiohttp.ClientResponse, too_large: str = BODY_TOO_LARGE) -> bytes:
    """The body, at most ``BODY_LIMIT`` bytes as received and once decoded (gzip/deflate)."""
    if response.content_length is not None and response.content_length > BODY_LIMIT:
        raise HTTPDown(response.status, too_large)
    raw = await read_some(response.content, BODY_LIMIT + 1)
    if len(raw) > BODY_LIMIT:
        raise HTTPDown(response.status, too_large)
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return _decompress(raw, 16 + zlib.MAX_WBITS, response.status, "Unable to gunzip reply", too_large)
    if encoding == "deflate":
        try:  # zlib-wrapped, as the RFC says; some servers send raw deflate
            return _decompress(raw, zlib.MAX_WBITS, response.status, "Unable to deflate reply", too_large)
        except HTTPDown as exc:
            if exc.message == too_large:
                raise
            return _decompress(raw, -zlib.MAX_WBITS, response.status, "Unable to deflate reply", too_large)
    return raw


async def read_some(stream: aiohttp.StreamReader, size: int) -> bytes:
    """Up to ``size`` bytes of a body: fewer only when the body ends first."""
    chunks: list[bytes] = []
    missing = size
    while missing > 0:
        chunk = await stream.read(min(missing, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _decompress(raw: bytes, wbits: int, status: int, failure: str, too_large: str) -> bytes:
    decoder = zlib.decompressobj(wbits)
    try:
        decoded = decoder.decompress(raw, BODY_LIMIT + 1)
    except zlib.error:
        raise HTTPDown(status, failure) from None
    if len(decoded) > BODY_LIMIT:
        raise HTTPDown(status, too_large)
    return decoded


def body_text(response: aiohttp.ClientResponse, body: bytes) -> str:
    """The body as text: the charset of ``Content-Type``, else UTF-8; undecodable bytes are replaced."""
    charset = response.charset or "utf-8"
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def contains(text: str, contentstring: str, regex: bool) -> bool:
    """``contentstring`` as a substring, or with ``regex`` as a regular expression searched in ``text``."""
    if not regex:
        return contentstring in text
    try:
        pattern = re.compile(contentstring)
    except re.error as exc:
        raise ConfigError(f"Invalid regular expression: {exc}") from None
    return pattern.search(text) is not None


def content_result(status: int, text: str, contentstring: str, regex: bool, invert: bool) -> CheckResult:
    """Found: up "Success" (inverted: down "Found"). Not found: down "Not found" (inverted: up "Success")."""
    found = contains(text, contentstring, regex)
    if found == invert:
        return CheckResult.down(status, "Found" if found else "Not found")
    return CheckResult.up(status, "Success")


# --- wording -----------------------------------------------------------------------------------------


def error_message(exc: BaseException) -> str:
    """One wording of aiohttp's connection, TLS and protocol errors."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return resolution_message(exc.host, exc.os_error)
    if _is_tls_error(exc):
        return f"TLS error: {describe(exc)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"Cannot connect to {exc.host}:{exc.port}: {describe(exc.os_error)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "Server disconnected"
    if isinstance(exc, aiohttp.InvalidUrlRedirectClientError):
        return f"Invalid redirect URL: {exc.url}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"Invalid HTTP response: {exc.message}"
    return describe(exc)


def _is_tls_error(exc: BaseException) -> bool:
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return True
    cause = exc.__cause__ or getattr(exc, "os_error", None)
    return isinstance(cause, ssl.SSLError)


def describe(exc: BaseException) -> str:
    """The OS or OpenSSL reason ("Connection refused", "wrong version number"), not the wrapper's text."""
    if isinstance(exc, aiohttp.ClientSSLError):
        exc = exc.os_error
    if isinstance(exc, ssl.SSLError):
        text = str(exc.strerror or exc)
        match = _SSL_TEXT.fullmatch(text)
        return match.group(1) if match else text
    if isinstance(exc, OSError) and exc.errno is not None and not isinstance(exc, aiohttp.ClientError):
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__
