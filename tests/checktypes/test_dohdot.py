"""DOHDOT against real servers on 127.0.0.1: an aiohttp DoH endpoint (RFC 8484) and an asyncio DoT endpoint
(RFC 7858), both TLS with trustme certificates, both answering from the in-process zone server
(tests/servers/dnszone.py)."""

from __future__ import annotations

import asyncio
import base64
import ssl
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import dns.message
import dns.name
import dns.rrset
import pytest
import pytest_asyncio
import trustme
from aiohttp import web
from pydantic import ValidationError
from servers.checkrun import outcome
from servers.dnszone import ZoneServer

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message


@pytest.fixture(scope="module")
def dohdot() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.dohdot"]).get("DOHDOT")


async def check(check_type: CheckType, target: str, run_timeout: float = 3.0, **params: Any) -> CheckResult:
    return await run_check(check_type, params, CheckContext(target=target, threshold=5, timeout=run_timeout))


FOUND = ("up", "Success", "Domain found")


def answer(zone: ZoneServer, wire: bytes) -> bytes | None:
    """The zone server's reply; the root NS query gets a NOERROR answer, as from a recursive resolver."""
    query = dns.message.from_wire(wire)
    if query.question and query.question[0].name == dns.name.root:
        zone.queries.append(query)
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text(".", 60, "IN", "NS", "a.root-servers.test."))
        return response.to_wire()
    return zone.answer_wire(wire)


# --- TLS material -------------------------------------------------------------------------------------


@dataclass
class Tls:
    ca: trustme.CA
    server: ssl.SSLContext
    other_host: ssl.SSLContext
    """A certificate from the same CA for another host name only."""
    ca_file: str


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    other = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("dns.other.test").configure_cert(other)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Tls(ca=ca, server=server, other_host=other, ca_file=str(ca_file))


@pytest.fixture
def trust_test_ca(tls: Tls, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the test CA the system trust store (OpenSSL reads SSL_CERT_FILE when a context loads defaults)."""
    monkeypatch.setenv("SSL_CERT_FILE", tls.ca_file)
    yield


# --- DoH server ---------------------------------------------------------------------------------------

REQUESTS = web.AppKey("requests", list)


@dataclass
class DohServer:
    base: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def make_doh_app(zone: ZoneServer) -> web.Application:
    routes = web.RouteTableDef()

    async def reply(request: web.Request, wire: bytes) -> web.Response:
        request.app[REQUESTS].append(
            {"method": request.method, "headers": request.headers.copy(), "query": dict(request.query)}
        )
        data = answer(zone, wire)
        if data is None:
            await asyncio.sleep(3600)
        return web.Response(body=data, content_type="application/dns-message")

    @routes.get("/dns-query")
    async def doh_get(request: web.Request) -> web.Response:
        encoded = request.query["dns"]
        return await reply(request, base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))

    @routes.post("/dns-query")
    async def doh_post(request: web.Request) -> web.Response:
        if request.content_type != "application/dns-message":
            return web.Response(status=415)
        return await reply(request, await request.read())

    @routes.get("/status/{code:\\d+}")
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    @routes.get("/garbage")
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x01not dns", content_type="application/dns-message")

    @routes.get("/other-id")
    async def other_id(request: web.Request) -> web.Response:
        query = dns.message.make_query("www.example.test", "A")
        query.id = 4242
        response = dns.message.make_response(query)
        return web.Response(body=response.to_wire(), content_type="application/dns-message")

    app = web.Application()
    app[REQUESTS] = []
    app.add_routes(routes)
    return app


@pytest_asyncio.fixture
async def doh(dns_zone_server: ZoneServer, tls: Tls) -> AsyncIterator[DohServer]:
    app = make_doh_app(dns_zone_server)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield DohServer(base=f"https://127.0.0.1:{port}", requests=app[REQUESTS])
    finally:
        await runner.cleanup()


# --- DoT server ---------------------------------------------------------------------------------------


async def serve_dot(zone: ZoneServer, context: ssl.SSLContext) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = answer(zone, await reader.readexactly(length))
                if data is not None:
                    writer.write(struct.pack("!H", len(data)) + data)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)


@pytest_asyncio.fixture
async def dot(dns_zone_server: ZoneServer, tls: Tls) -> AsyncIterator[int]:
    server = await serve_dot(dns_zone_server, tls.server)
    async with server:
        yield server.sockets[0].getsockname()[1]


@pytest_asyncio.fixture
async def dot_other_host(dns_zone_server: ZoneServer, tls: Tls) -> AsyncIterator[int]:
    server = await serve_dot(dns_zone_server, tls.other_host)
    async with server:
        yield server.sockets[0].getsockname()[1]


# --- params -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"dohdot": "doh", "method": "GET", "statuscode": 200, "dnstype": "A", "verify": False}),
        (
            {"dohdot": "DoT", "method": "post", "statuscode": "204"},
            {"dohdot": "dot", "method": "POST", "statuscode": 204},
        ),
        ({"edns": {"65001": "abc"}, "clientcert": ""}, {"edns": {"65001": "abc"}, "clientcert": ""}),
    ],
)
def test_valid_params(dohdot: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    parsed = dohdot.params.model_validate(params).model_dump()
    assert {key: parsed[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dohdot": "doq"}, "dohdot: Input should be 'doh' or 'dot'"),
        ({"method": "PUT"}, "method: Input should be 'GET' or 'POST'"),
        ({"statuscode": 99}, "statuscode: Input should be greater than or equal to 100"),
        ({"edns": {"0": "ab"}}, "edns: Value error, option code '0' must be an integer between 1 and 65535"),
        ({"edns": {"8": "xyz"}}, "edns: Value error, option 8 value must be hexadecimal"),
        ({"transport": "tcp"}, "transport: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(dohdot: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        dohdot.params.model_validate(params)
    assert validation_message(info.value) == message


async def test_clientcert_is_not_supported_yet(dohdot: CheckType, doh: DohServer) -> None:
    result = await check(dohdot, f"{doh.base}/dns-query", dnstoresolve="www.example.test", clientcert="CERT1")
    assert result.config_error
    assert (
        result.message
        == "clientcert is not supported yet: Vedette has no client certificate store (remove clientcert)"
    )
    assert doh.requests == []


@pytest.mark.parametrize(
    ("dohdot_mode", "target", "message"),
    [
        ("doh", "", "Missing target"),
        ("doh", "dns.example/dns-query", "DoH target must be a URL such as https://dns.example/dns-query"),
        ("dot", "127.0.0.1:99999", "Invalid port in '127.0.0.1:99999'"),
    ],
)
async def test_bad_targets_are_config_errors(
    dohdot: CheckType, dohdot_mode: str, target: str, message: str
) -> None:
    result = await check(dohdot, target, dohdot=dohdot_mode, dnstoresolve="www.example.test")
    assert result.config_error and result.message == message


# --- DoH ----------------------------------------------------------------------------------------------


async def test_doh_get_finds_the_domain(
    dohdot: CheckType, doh: DohServer, dns_zone_server: ZoneServer
) -> None:
    result = await check(dohdot, f"{doh.base}/dns-query", dnstoresolve="www.example.test")
    assert outcome(result) == FOUND
    (request,) = doh.requests
    assert request["method"] == "GET"
    assert request["headers"]["Accept"] == "application/dns-message"
    assert "=" not in request["query"]["dns"]  # base64url without padding
    sent = dns_zone_server.queries[-1]
    assert sent.id == 0 and sent.question[0].name.to_text() == "www.example.test."


async def test_doh_post_with_headers_and_edns(
    dohdot: CheckType, doh: DohServer, dns_zone_server: ZoneServer
) -> None:
    result = await check(
        dohdot,
        f"{doh.base}/dns-query",
        method="POST",
        dnstoresolve="example.test",
        dnstype="MX",
        contentstring="mail.example.test",
        sendheaders={"X-Probe": "vedette", "X-Number": 5, "user-agent": "probe/1"},
        edns={"65001": "abc", "65002": "0102"},
    )
    assert outcome(result) == FOUND
    (request,) = doh.requests
    assert request["method"] == "POST"
    assert (request["headers"]["X-Probe"], request["headers"]["X-Number"]) == ("vedette", "5")
    assert request["headers"]["Content-Type"] == "application/dns-message"
    assert request["headers"].getall("User-Agent") == ["probe/1"]  # a sent header replaces the default
    options = {int(option.otype): option.to_wire() for option in dns_zone_server.queries[-1].options}
    assert options == {65001: b"\x0a\xbc", 65002: b"\x01\x02"}  # an odd digit count gets a leading zero


async def test_doh_with_verify_and_a_trusted_certificate(
    dohdot: CheckType, doh: DohServer, trust_test_ca: None
) -> None:
    target = doh.base.replace("127.0.0.1", "localhost") + "/dns-query"
    result = await check(
        dohdot, target, dnstoresolve="www.example.test", contentstring="192.0.2.10", verify=True
    )
    assert outcome(result) == FOUND


async def test_doh_without_a_name_checks_that_the_server_answers(dohdot: CheckType, doh: DohServer) -> None:
    result = await check(dohdot, f"{doh.base}/dns-query")
    assert outcome(result) == ("up", "Success", "Server Responded")


async def test_doh_untrusted_certificate_fails_with_verify(dohdot: CheckType, doh: DohServer) -> None:
    result = await check(dohdot, f"{doh.base}/dns-query", dnstoresolve="www.example.test", verify=True)
    assert outcome(result) == (
        "down",
        "Error",
        "DNS error TLS certificate verify failed: unable to get local issuer certificate",
    )
    assert doh.requests == []


async def test_doh_wrong_status(dohdot: CheckType, doh: DohServer) -> None:
    result = await check(dohdot, f"{doh.base}/status/503", dnstoresolve="www.example.test")
    assert outcome(result) == ("down", 503, "HTTP status received: 503 expected: 200")
    result = await check(dohdot, f"{doh.base}/dns-query", dnstoresolve="www.example.test", statuscode=204)
    assert outcome(result) == ("down", 200, "HTTP status received: 200 expected: 204")


async def test_doh_wrong_answer(dohdot: CheckType, doh: DohServer) -> None:
    result = await check(
        dohdot, f"{doh.base}/dns-query", dnstoresolve="www.example.test", contentstring="192.0.2.99"
    )
    assert outcome(result) == ("down", "Failure", "DNS does not match")


@pytest.mark.parametrize(
    ("name", "rcode"), [("nope.example.test", "NXDOMAIN"), ("www.elsewhere.test", "REFUSED")]
)
async def test_doh_rcode_must_be_noerror(dohdot: CheckType, doh: DohServer, name: str, rcode: str) -> None:
    result = await check(dohdot, f"{doh.base}/dns-query", dnstoresolve=name)
    assert outcome(result) == ("down", rcode, "No Resolution")


async def test_doh_no_data_is_no_resolution(dohdot: CheckType, doh: DohServer) -> None:
    result = await check(dohdot, f"{doh.base}/dns-query", dnstoresolve="www.example.test", dnstype="MX")
    assert outcome(result) == ("down", "Failed", "No Resolution")


async def test_doh_reply_that_is_not_dns(dohdot: CheckType, doh: DohServer) -> None:
    result = await check(dohdot, f"{doh.base}/garbage", dnstoresolve="www.example.test")
    assert (result.status, result.code) == ("down", "Error")
    assert result.message.startswith("DNS error invalid DNS reply: ")
    result = await check(dohdot, f"{doh.base}/other-id", dnstoresolve="www.example.test")
    assert outcome(result) == ("down", "Error", "DNS error reply does not answer the query")


async def test_doh_server_that_never_answers_times_out(dohdot: CheckType, doh: DohServer) -> None:
    # The zone server stays silent for drop.example.test, so the DoH handler never replies.
    result = await check(dohdot, f"{doh.base}/dns-query", run_timeout=0.5, dnstoresolve="x.drop.example.test")
    assert outcome(result) == ("down", "Timeout", "Timeout")


async def test_doh_refused(dohdot: CheckType, closed_port: int) -> None:
    result = await check(
        dohdot, f"https://127.0.0.1:{closed_port}/dns-query", dnstoresolve="www.example.test"
    )
    assert outcome(result) == ("down", "Error", "DNS error Connection refused")


# --- DoT ----------------------------------------------------------------------------------------------


async def test_dot_finds_the_domain(dohdot: CheckType, dot: int, dns_zone_server: ZoneServer) -> None:
    result = await check(
        dohdot,
        f"127.0.0.1:{dot}",
        dohdot="dot",
        dnstoresolve="_sip._tcp.example.test",
        dnstype="SRV",
        contentstring="10 20 5060 sip.example.test.",
        edns={"65001": "ff"},
    )
    assert outcome(result) == FOUND
    assert [option.to_wire() for option in dns_zone_server.queries[-1].options] == [b"\xff"]


async def test_dot_with_verify_and_a_trusted_certificate(
    dohdot: CheckType, dot: int, trust_test_ca: None
) -> None:
    result = await check(
        dohdot, f"localhost:{dot}", dohdot="dot", dnstoresolve="www.example.test", verify=True
    )
    assert outcome(result) == FOUND


async def test_dot_untrusted_certificate_fails_with_verify(dohdot: CheckType, dot: int) -> None:
    result = await check(
        dohdot, f"127.0.0.1:{dot}", dohdot="dot", dnstoresolve="www.example.test", verify=True
    )
    assert outcome(result) == (
        "down",
        "Error",
        "DNS error TLS certificate verify failed: unable to get local issuer certificate",
    )


async def test_dot_certificate_for_another_host_fails_with_verify(
    dohdot: CheckType, dot_other_host: int, trust_test_ca: None
) -> None:
    target = f"127.0.0.1:{dot_other_host}"
    result = await check(dohdot, target, dohdot="dot", dnstoresolve="www.example.test", verify=True)
    assert (result.status, result.code) == ("down", "Error")
    assert result.message.startswith("DNS error TLS certificate verify failed: IP address mismatch")
    # Without verify the same server passes.
    assert outcome(await check(dohdot, target, dohdot="dot", dnstoresolve="www.example.test")) == FOUND


async def test_dot_wrong_answer_and_nxdomain(dohdot: CheckType, dot: int) -> None:
    target = f"127.0.0.1:{dot}"
    result = await check(
        dohdot, target, dohdot="dot", dnstoresolve="txt.example.test", dnstype="TXT", contentstring="bye"
    )
    assert outcome(result) == ("down", "Failure", "DNS does not match")
    result = await check(dohdot, target, dohdot="dot", dnstoresolve="nope.example.test")
    assert outcome(result) == ("down", "NXDOMAIN", "No Resolution")


async def test_dot_server_that_never_answers_times_out(
    dohdot: CheckType, dns_zone_server: ZoneServer
) -> None:
    # The silent port accepts TCP connections at the kernel level but never speaks TLS.
    target = f"127.0.0.1:{dns_zone_server.silent_port}"
    result = await check(dohdot, target, run_timeout=0.5, dohdot="dot", dnstoresolve="www.example.test")
    assert outcome(result) == ("down", "Timeout", "Timeout")


async def test_dot_refused_and_unresolvable(dohdot: CheckType, closed_port: int) -> None:
    result = await check(dohdot, f"127.0.0.1:{closed_port}", dohdot="dot", dnstoresolve="www.example.test")
    assert outcome(result) == ("down", "Error", "DNS error Connection refused")
    result = await check(dohdot, "nonexistent.invalid", dohdot="dot", dnstoresolve="www.example.test")
    assert outcome(result) == ("down", "error", "No DNS resolution for nonexistent.invalid")
