"""DOHDOT: a DNS query over HTTPS (RFC 8484) or TLS (RFC 7858); status, RCODE and answer match.

Target: DoH, the resolver URL (``https://dns.example/dns-query``; existing query parameters are kept);
DoT, the resolver host, ``host:port`` or ``[v6]:port`` (port 853 by default).

DoH is spoken with aiohttp rather than ``dns.asyncquery.https``: that needs httpx, cannot send arbitrary
``sendheaders`` and rejects every non-2xx status, while this check must report the status it received. The
query itself is a dnspython message either way (ID 0, as RFC 8484 recommends for cacheable GETs).

Pass: (DoH) the HTTP status equals ``statuscode``; the reply parses as DNS with RCODE NOERROR; then the DNS
rules of ``checktypes/_dns.py`` on the answer section. ``verify`` requires a valid certificate for the host.

``clientcert`` (mutual TLS) is not supported yet: Vedette has no certificate store, so a check that sets it
fails with a configuration error instead of silently connecting without the certificate.
"""

from __future__ import annotations

import base64
import socket
import ssl
from typing import Annotated, Literal

import aiohttp
import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
from multidict import CIMultiDict
from pydantic import BeforeValidator, field_validator
from yarl import URL

from checktypes._common import DnsType, Headers, StatusCode, is_hex, lower_enum, upper_enum
from checktypes._dns import (
    NO_RESOLUTION,
    describe_error,
    edns_options,
    evaluate,
    make_query,
    query_name,
    resolve_address,
    split_host_port,
)
from checktypes._http import IPv4FirstResolver
from checktypes._net import resolution_message
from checktypes._tls import client_context
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, StrIsh

NAME = "DOHDOT"

DOT_PORT = 853
DNS_MESSAGE = "application/dns-message"
MAX_DNS_MESSAGE = 65535

# The runner owns the deadline; aiohttp's own default timers are dead weight.
_NO_TIMEOUT = aiohttp.ClientTimeout()


class Params(CheckParams):
    dohdot: Annotated[Literal["doh", "dot"], BeforeValidator(lower_enum)] = "doh"
    dnstoresolve: StrIsh | None = None
    """The name queried (``nodeping-api`` always sends one; NodePing documents it as optional)."""
    dnstype: DnsType = "A"
    contentstring: StrIsh | None = None
    """Expected answer value (exact match, as for DNS)."""
    method: Annotated[Literal["GET", "POST"], BeforeValidator(upper_enum)] = "GET"
    statuscode: StatusCode = 200
    """Expected HTTP status of the DoH reply."""
    sendheaders: Headers | None = None
    edns: dict[str, StrIsh] | None = None
    """EDNS(0) options ``{"<option code>": "<hex value>"}``."""
    verify: BoolIsh = False
    """Require a valid TLS certificate."""
    ipv6: BoolIsh = False
    clientcert: StrIsh | None = None
    """Id of a stored client certificate/key for mutual TLS."""

    @field_validator("edns")
    @classmethod
    def _edns_options(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for code, data in (value or {}).items():
            if not code.strip().isdigit() or not 0 < int(code) <= 65535:
                raise ValueError(f"option code {code!r} must be an integer between 1 and 65535")
            if not is_hex(data):
                raise ValueError(f"option {code} value must be hexadecimal")
        return value


class _DnsFailure(Exception):
    """The exchange failed in a way the check reports as a down result."""

    def __init__(self, result: CheckResult) -> None:
        self.result = result


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if params.clientcert and params.clientcert.strip():
        raise ConfigError(
            "clientcert is not supported yet: Vedette has no client certificate store (remove clientcert)"
        )
    target = ctx.target.strip()
    if not target:
        raise ConfigError("Missing target")
    qname = query_name(params.dnstoresolve)
    query = make_query(qname, params.dnstype, options=edns_options(params.edns), query_id=0)
    try:
        if params.dohdot == "doh":
            response = await _doh(params, ctx, target, query)
        else:
            response = await _dot(params, target, query)
    except _DnsFailure as failure:
        return failure.result
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        return CheckResult.down(dns.rcode.to_text(rcode), NO_RESOLUTION)
    return evaluate(response, qname, params.dnstype, params.contentstring, "answer")


# --- DNS over HTTPS -------------------------------------------------------------------------------


def _doh_url(target: str) -> URL:
    try:
        url = URL(target)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"Invalid DoH URL: {exc}") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise ConfigError("DoH target must be a URL such as https://dns.example/dns-query")
    return url


async def _doh(
    params: Params, ctx: CheckContext, target: str, query: dns.message.Message
) -> dns.message.Message:
    url = _doh_url(target)
    wire = query.to_wire()
    headers = CIMultiDict({"Accept": DNS_MESSAGE, "User-Agent": ctx.user_agent})
    body: bytes | None = None
    if params.method == "GET":
        url = url.update_query(dns=base64.urlsafe_b64encode(wire).rstrip(b"=").decode("ascii"))
    else:
        headers["Content-Type"] = DNS_MESSAGE
        body = wire
    for name, value in (params.sendheaders or {}).items():
        headers[name] = value  # replaces a default of the same name, in any case
    connector = aiohttp.TCPConnector(
        ssl=client_context(params.verify),
        force_close=True,
        family=socket.AF_INET6 if params.ipv6 else socket.AF_UNSPEC,
        resolver=IPv4FirstResolver(),
        use_dns_cache=False,
        limit=0,
    )
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=_NO_TIMEOUT
    ) as session:
        try:
            async with session.request(
                params.method, url, headers=headers, data=body, allow_redirects=False
            ) as reply:
                status = reply.status
                payload = await _read_limited(reply)
        except (aiohttp.ClientError, OSError) as exc:
            raise _DnsFailure(_http_error(exc)) from None
    if status != params.statuscode:
        raise _DnsFailure(
            CheckResult.down(status, f"HTTP status received: {status} expected: {params.statuscode}")
        )
    if payload is None:
        raise _DnsFailure(CheckResult.down("Error", "DNS error reply larger than a DNS message"))
    try:
        response = dns.message.from_wire(payload)
    except (dns.exception.DNSException, ValueError) as exc:
        raise _DnsFailure(CheckResult.down("Error", f"DNS error invalid DNS reply: {exc}")) from None
    if not query.is_response(response):
        raise _DnsFailure(CheckResult.down("Error", "DNS error reply does not answer the query"))
    return response


async def _read_limited(reply: aiohttp.ClientResponse) -> bytes | None:
    """The body, or None when it is larger than any DNS message can be."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in reply.content.iter_chunked(16384):
        size += len(chunk)
        if size > MAX_DNS_MESSAGE:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _http_error(exc: BaseException) -> CheckResult:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return CheckResult.down("error", resolution_message(exc.host, exc.os_error))
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return CheckResult.down("Error", f"DNS error {describe_error(exc.certificate_error)}")
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientConnectorError):
        return CheckResult.down("Error", f"DNS error {describe_error(exc.os_error)}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return CheckResult.down("Error", "DNS error Server disconnected")
    if isinstance(exc, aiohttp.ClientResponseError):
        return CheckResult.down("Error", f"DNS error invalid HTTP response: {exc.message}")
    return CheckResult.down("Error", f"DNS error {describe_error(exc)}")


# --- DNS over TLS ---------------------------------------------------------------------------------


async def _dot(params: Params, target: str, query: dns.message.Message) -> dns.message.Message:
    if target.lower().startswith("tls://"):
        target = target[len("tls://") :]
    host, port = split_host_port(target.rstrip("/"), DOT_PORT)
    try:
        address = await resolve_address(host, ipv6=params.ipv6)
    except OSError as exc:
        raise _DnsFailure(CheckResult.down("error", resolution_message(host, exc))) from None
    # client_context() is shared between checks: used as is (no ALPN; RFC 7858 does not need it).
    context = client_context(params.verify)
    try:
        return await dns.asyncquery.tls(query, address, port=port, ssl_context=context, server_hostname=host)
    except (dns.exception.DNSException, OSError, ssl.SSLError) as exc:
        raise _DnsFailure(CheckResult.down("Error", f"DNS error {describe_error(exc)}")) from None
