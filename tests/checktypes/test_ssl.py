"""SSL against real TLS servers on 127.0.0.1 with trustme certificates: valid, expired, expiring, wrong name,
wildcard, SNI, self-signed, unknown CA; the test CA is trusted through VEDETTE_SSL_CA_FILE."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme
from cryptography import x509
from pydantic import ValidationError
from servers.checkrun import expect, expect_prefix
from servers.httpd import serve_raw, server_context

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, timeout_for, validation_message

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def sslcheck() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.ssl"]).get("SSL")


@pytest.fixture
def trusted(web_ca_file: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VEDETTE_SSL_CA_FILE", web_ca_file)
    return web_ca_file


async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # the handshake is done; wait for the checker to hang up


@asynccontextmanager
async def tls_server(context: ssl.SSLContext) -> AsyncIterator[int]:
    async with serve_raw(hold, context) as port:
        yield port


async def check(kind: CheckType, target: str, threshold: int = 5, **params: Any) -> CheckResult:
    ctx = CheckContext(target=target, threshold=threshold, timeout=timeout_for(kind, threshold))
    return await run_check(kind, params, ctx)


def self_signed_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server presenting ``ca``'s own (self-signed) certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with ca.cert_pem.tempfile() as cert, ca.private_key_pem.tempfile() as key:
        context.load_cert_chain(cert, key)
    return context


# --- valid --------------------------------------------------------------------------------------------


async def test_valid_certificate(sslcheck: CheckType, web_ca: trustme.CA, trusted: str) -> None:
    not_after = NOW + timedelta(days=60)
    async with tls_server(server_context(web_ca, "127.0.0.1", "localhost", not_after=not_after)) as port:
        result = await check(sslcheck, f"127.0.0.1:{port}")
    expect(result, "up", "valid", "Valid cert")
    ca_subject = x509.load_pem_x509_certificate(web_ca.cert_pem.bytes()).subject.rfc4514_string()
    assert result.details is not None
    assert result.details["expires"] == not_after.isoformat()
    assert result.details["issuer"] == ca_subject
    assert result.details["servername"] == "127.0.0.1"


@pytest.mark.parametrize(
    "form", ["https://127.0.0.1:{port}/some/path?q=1", "localhost:{port}", "https://localhost:{port}"]
)
async def test_target_forms(sslcheck: CheckType, web_ca: trustme.CA, trusted: str, form: str) -> None:
    async with tls_server(server_context(web_ca, "127.0.0.1", "localhost")) as port:
        expect(await check(sslcheck, form.format(port=port)), "up", "valid", "Valid cert")


async def test_expiry_outside_warningdays(sslcheck: CheckType, web_ca: trustme.CA, trusted: str) -> None:
    async with tls_server(server_context(web_ca, "127.0.0.1", not_after=NOW + timedelta(days=5))) as port:
        expect(await check(sslcheck, f"127.0.0.1:{port}", warningdays=3), "up", "valid", "Valid cert")
        expect(await check(sslcheck, f"127.0.0.1:{port}", warningdays=0), "up", "valid", "Valid cert")


async def test_sni_selects_the_certificate(sslcheck: CheckType, web_ca: trustme.CA, trusted: str) -> None:
    default = server_context(web_ca, "127.0.0.1")
    named = server_context(web_ca, "app.example.test")
    seen: list[str | None] = []

    def pick(sock: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        seen.append(server_name)
        if server_name == "app.example.test":
            sock.context = named

    default.sni_callback = pick
    async with tls_server(default) as port:
        result = await check(sslcheck, f"127.0.0.1:{port}", servername="app.example.test")
        expect(result, "up", "valid", "Valid cert")
        expect(await check(sslcheck, f"127.0.0.1:{port}"), "up", "valid", "Valid cert")
    assert seen == ["app.example.test", None]  # no SNI for an IP address


@pytest.mark.parametrize(("servername", "status"), [("www.example.test", "up"), ("WWW.Example.Test.", "up")])
async def test_wildcard(
    sslcheck: CheckType, web_ca: trustme.CA, trusted: str, servername: str, status: str
) -> None:
    async with tls_server(server_context(web_ca, "*.example.test")) as port:
        expect(await check(sslcheck, f"127.0.0.1:{port}", servername=servername), "up", "valid", "Valid cert")


# --- invalid ------------------------------------------------------------------------------------------


async def test_expired(sslcheck: CheckType, web_ca: trustme.CA, trusted: str) -> None:
    context = server_context(
        web_ca, "127.0.0.1", not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1)
    )
    async with tls_server(context) as port:
        result = await check(sslcheck, f"127.0.0.1:{port}")
    expect(result, "down", "invalid", "Invalid cert: certificate has expired")


async def test_expiring_within_warningdays(sslcheck: CheckType, web_ca: trustme.CA, trusted: str) -> None:
    not_after = NOW + timedelta(days=5)
    async with tls_server(server_context(web_ca, "127.0.0.1", not_after=not_after)) as port:
        result = await check(sslcheck, f"https://127.0.0.1:{port}/", warningdays="10")
    date = f"{not_after:%Y-%m-%d}"
    expect(result, "down", f"expires {date}", f"Will expire {date}")
    assert result.details is not None and result.details["expires"] == not_after.isoformat()


async def test_wrong_hostname(sslcheck: CheckType, web_ca: trustme.CA, trusted: str) -> None:
    async with tls_server(server_context(web_ca, "other.example.test")) as port:
        expect(await check(sslcheck, f"127.0.0.1:{port}"), "down", "invalid", "Domain mismatch")
        result = await check(sslcheck, f"127.0.0.1:{port}", servername="example.test")
        expect(result, "down", "invalid", "Domain mismatch")


@pytest.mark.parametrize("servername", ["example.test", "a.b.example.test", "wwwexample.test"])
async def test_wildcard_covers_one_label_only(
    sslcheck: CheckType, web_ca: trustme.CA, trusted: str, servername: str
) -> None:
    async with tls_server(server_context(web_ca, "*.example.test")) as port:
        result = await check(sslcheck, f"127.0.0.1:{port}", servername=servername)
    expect(result, "down", "invalid", "Domain mismatch")


async def test_self_signed(sslcheck: CheckType, trusted: str) -> None:
    async with tls_server(self_signed_context(trustme.CA())) as port:
        result = await check(sslcheck, f"127.0.0.1:{port}")
    expect(result, "down", "invalid", "Invalid cert: self-signed certificate")


async def test_unknown_issuer(sslcheck: CheckType, trusted: str) -> None:
    async with tls_server(server_context(trustme.CA(), "127.0.0.1")) as port:
        result = await check(sslcheck, f"127.0.0.1:{port}")
    expect(result, "down", "invalid", "Invalid cert: unable to get local issuer certificate")


async def test_system_store_alone_does_not_trust_the_test_ca(
    sslcheck: CheckType, web_ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VEDETTE_SSL_CA_FILE", raising=False)
    async with tls_server(server_context(web_ca, "127.0.0.1")) as port:
        result = await check(sslcheck, f"127.0.0.1:{port}")
    expect(result, "down", "invalid", "Invalid cert: unable to get local issuer certificate")


async def test_unreadable_ca_file_is_a_config_error(
    sslcheck: CheckType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEDETTE_SSL_CA_FILE", "/nonexistent/ca.pem")
    result = await check(sslcheck, "127.0.0.1:1")
    assert (result.status, result.config_error) == ("down", True)
    assert result.message.startswith("VEDETTE_SSL_CA_FILE: cannot load /nonexistent/ca.pem: "), result.message


# --- no TLS at all --------------------------------------------------------------------------------------


async def test_refused(sslcheck: CheckType, trusted: str, closed_port: int) -> None:
    result = await check(sslcheck, f"127.0.0.1:{closed_port}")
    expect(result, "down", "Error", f"Cannot connect to 127.0.0.1:{closed_port}: Connection refused")


async def test_default_port_is_443(sslcheck: CheckType, trusted: str) -> None:
    result = await check(sslcheck, "https://127.0.0.1/")
    expect(result, "down", "Error", "Cannot connect to 127.0.0.1:443: Connection refused")


async def test_plain_text_server_is_a_tls_error(sslcheck: CheckType, trusted: str) -> None:
    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        await reader.read()

    async with serve_raw(banner) as port:
        result = await check(sslcheck, f"127.0.0.1:{port}")
    expect_prefix(result, "down", "Error", "TLS error: ")


async def test_silent_server_times_out(sslcheck: CheckType, trusted: str) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async with serve_raw(silent) as port:
        expect(await check(sslcheck, f"127.0.0.1:{port}", threshold=1), "down", "Timeout", "Timeout")


async def test_unresolvable(sslcheck: CheckType, trusted: str) -> None:
    result = await check(sslcheck, "no-such-host.invalid")
    assert (result.status, result.code) == ("down", "Error")
    assert "no-such-host.invalid" in result.message


# --- configuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "Missing target"),
        ("   ", "Missing target"),
        ("ftp://example.com/", "Target must be a host name or begin with https://"),
        ("127.0.0.1:99999", "Invalid port in target: 127.0.0.1:99999"),
        ("example.com:https", "Invalid port in target: example.com:https"),
        ("https://:8443/", "Target must include a host name"),
    ],
)
async def test_unusable_target(sslcheck: CheckType, target: str, message: str) -> None:
    result = await check(sslcheck, target)
    assert (result.status, result.message, result.config_error) == ("down", message, True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"warningdays": -1}, "warningdays: Input should be greater than or equal to 0"),
        (
            {"warningdays": "soon"},
            "warningdays: Input should be a valid integer, unable to parse string as an integer",
        ),
        ({"servername": ["a"]}, "servername: Input should be a valid string"),
        ({"port": 443}, "port: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(sslcheck: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        sslcheck.params.model_validate(params)
    assert validation_message(excinfo.value) == message
