"""SMTP against a real exim4 (STARTTLS, implicit TLS, AUTH PLAIN/LOGIN/CRAM-MD5) with a self-signed certificate.

Also: Dovecot (an IMAP/POP3 greeting is not an SMTP banner), aiosmtpd for a server without STARTTLS (the exim
configuration offers it on every port), an in-process listener that never speaks (the runner's timeout) and
a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as AiosmtpdServer
from pydantic import ValidationError
from servers.checkrun import HOST, check, expect, expect_prefix
from servers.dovecot import DovecotServer
from servers.exim import EximServer
from servers.mailcert import MailCertificate

from prober.registry import CheckType, load_registry
from prober.runner import validation_message

# One worker runs every mail test, so dovecot and exim start once per run (scripts/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("mail")
RECIPIENT = "someone@example.com"
AUTH: dict[str, Any] = {"username": "tester", "password": "testpw"}


@pytest.fixture(scope="module")
def smtp() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.smtp"]).get("SMTP")


def _received_anything(server: EximServer) -> bool:
    """exim logs "<=" for a message it received, before it answers DATA; mbox is where it would land."""
    with open(server.mainlog, errors="replace") as f:
        received = any(" <= " in line for line in f)
    return received or os.path.exists(server.mbox)


# --- up -------------------------------------------------------------------------------------------


async def test_banner_and_ehlo_is_connected(smtp: CheckType, exim_server: EximServer) -> None:
    result = await check(smtp, port=exim_server.smtp)
    expect(result, "up", 250, "Connected")
    assert result.duration_ms > 0


async def test_starttls_connected(smtp: CheckType, exim_server: EximServer) -> None:
    result = await check(smtp, port=exim_server.smtp, secure="starttls", verify=False)
    expect(result, "up", 250, "STARTTLS connected")


async def test_implicit_tls_connected(smtp: CheckType, exim_server: EximServer) -> None:
    result = await check(smtp, port=exim_server.smtps, secure="ssl", verify="false")
    expect(result, "up", 250, "Connected")


@pytest.mark.parametrize(("port", "secure"), [("smtp", "starttls"), ("smtps", "ssl")])
async def test_plain_auth_is_preferred(
    smtp: CheckType, exim_server: EximServer, port: str, secure: str
) -> None:
    # Both ports offer PLAIN and LOGIN: PLAIN comes first.
    result = await check(smtp, port=getattr(exim_server, port), secure=secure, verify=False, **AUTH)
    expect(result, "up", 235, "PLAIN auth success")


@pytest.mark.parametrize(("port", "mechanism"), [("login", "LOGIN"), ("cram", "CRAM-MD5")])
async def test_other_mechanisms(smtp: CheckType, exim_server: EximServer, port: str, mechanism: str) -> None:
    result = await check(smtp, port=getattr(exim_server, port), secure="starttls", verify=False, **AUTH)
    expect(result, "up", 235, f"{mechanism} auth success")


@pytest.mark.usefixtures("trust_mail_certificate")
@pytest.mark.parametrize(("port", "secure"), [("smtp", "starttls"), ("smtps", "ssl")])
async def test_verified_certificate(smtp: CheckType, exim_server: EximServer, port: str, secure: str) -> None:
    result = await check(smtp, port=getattr(exim_server, port), secure=secure, verify=True, **AUTH)
    expect(result, "up", 235, "PLAIN auth success")


@pytest.mark.usefixtures("trust_mail_certificate")
async def test_verified_certificate_by_host_name(smtp: CheckType, exim_server: EximServer) -> None:
    # "localhost" resolves to 127.0.0.1 first (A before AAAA) and matches the certificate's DNS name.
    result = await check(smtp, target="localhost", port=exim_server.smtp, secure="starttls", verify=True)
    expect(result, "up", 250, "STARTTLS connected")


async def test_certificate_outside_warningdays(smtp: CheckType, exim_server: EximServer) -> None:
    result = await check(smtp, port=exim_server.smtps, secure="ssl", verify=False, warningdays=1)
    expect(result, "up", 250, "Connected")


async def test_recipient_accepted_and_nothing_sent(smtp: CheckType, exim_server: EximServer) -> None:
    result = await check(
        smtp, port=exim_server.smtp, secure="starttls", verify=False, email=RECIPIENT, **AUTH
    )
    expect(result, "up", 250, f"Email for address {RECIPIENT} was accepted")
    assert not _received_anything(exim_server)  # MAIL and RCPT only: no DATA, no message


async def test_utf8_recipient_with_smtputf8(smtp: CheckType, exim_server: EximServer) -> None:
    email = "jürgen@exämple.com"
    result = await check(smtp, port=exim_server.smtp, secure="starttls", verify=False, email=email, **AUTH)
    expect(result, "up", 250, f"Email for address {email} was accepted")


async def test_rejected_recipient_passes_with_invert(smtp: CheckType, exim_server: EximServer) -> None:
    # Unauthenticated: exim refuses every recipient ("550 authentication required").
    result = await check(smtp, port=exim_server.smtp, email=RECIPIENT, invert="true")
    expect(result, "up", 550, f"Email for address {RECIPIENT} was rejected")


async def test_invert_without_email_changes_nothing(smtp: CheckType, exim_server: EximServer) -> None:
    result = await check(smtp, port=exim_server.smtp, invert=True)
    expect(result, "up", 250, "Connected")


# --- down -----------------------------------------------------------------------------------------


async def test_rejected_recipient(smtp: CheckType, exim_server: EximServer) -> None:
    result = await check(smtp, port=exim_server.smtp, email=RECIPIENT)
    expect(result, "down", 550, f"Email for address {RECIPIENT} was rejected")


async def test_accepted_recipient_fails_with_invert(smtp: CheckType, exim_server: EximServer) -> None:
    result = await check(
        smtp, port=exim_server.smtps, secure="ssl", verify=False, email=RECIPIENT, invert=1, **AUTH
    )
    expect(result, "down", 250, f"Email for address {RECIPIENT} was accepted")


@pytest.mark.parametrize(("port", "mechanism"), [("smtp", "PLAIN"), ("login", "LOGIN"), ("cram", "CRAM-MD5")])
async def test_wrong_password(smtp: CheckType, exim_server: EximServer, port: str, mechanism: str) -> None:
    result = await check(
        smtp,
        port=getattr(exim_server, port),
        secure="starttls",
        verify=False,
        username="tester",
        password="s3cret!",
    )
    expect(result, "down", 535, f"{mechanism} auth failure: Incorrect authentication data")
    assert "s3cret!" not in repr(result)


async def test_auth_not_offered_without_tls(smtp: CheckType, exim_server: EximServer) -> None:
    result = await check(smtp, port=exim_server.smtp, **AUTH)
    expect(result, "down", "error", "No supported authentication found")


@pytest.mark.parametrize(("port", "secure"), [("smtp", "starttls"), ("smtps", "ssl")])
async def test_self_signed_certificate_fails_verification(
    smtp: CheckType, exim_server: EximServer, port: str, secure: str
) -> None:
    result = await check(smtp, port=getattr(exim_server, port), secure=secure, **AUTH)
    expect(result, "down", 451, "certificate verify failed: self-signed certificate")


@pytest.mark.parametrize(("port", "secure"), [("smtp", "starttls"), ("smtps", "ssl")])
async def test_certificate_within_warningdays(
    smtp: CheckType, exim_server: EximServer, mail_certificate: MailCertificate, port: str, secure: str
) -> None:
    result = await check(smtp, port=getattr(exim_server, port), secure=secure, verify=False, warningdays=3)
    expires = f"{mail_certificate.not_after:%Y-%m-%d %H:%M:%S} UTC"
    expect(result, "down", "Certificate", f"Certificate expires {expires}")


async def test_implicit_tls_on_a_plain_port(smtp: CheckType, exim_server: EximServer) -> None:
    result = await check(smtp, port=exim_server.smtp, secure="ssl", verify=False)
    expect(result, "down", "error", "SSL/TLS not supported on this port")


@pytest.mark.parametrize(("port", "start"), [("imap", "* OK [CAPABILITY IMAP4rev1"), ("pop3", "+OK Dovecot")])
async def test_other_protocols_are_not_smtp(
    smtp: CheckType, dovecot_server: DovecotServer, port: str, start: str
) -> None:
    result = await check(smtp, port=getattr(dovecot_server, port))
    expect_prefix(result, "down", "error", f"Malformed SMTP response line: {start}")


@asynccontextmanager
async def serve_aiosmtpd(host: str) -> AsyncIterator[int]:
    """aiosmtpd without TLS (so without STARTTLS) on ``host``, port 0; yields the port."""

    class Handler:
        pass

    sessions: list[AiosmtpdServer] = []

    def session() -> AiosmtpdServer:
        sessions.append(AiosmtpdServer(Handler(), hostname="aiosmtpd.test"))
        return sessions[-1]

    try:
        server = await asyncio.get_running_loop().create_server(session, host, 0)
    except OSError:
        pytest.skip(f"{host} is not bindable here")
    async with server:
        yield server.sockets[0].getsockname()[1]
        for protocol in sessions:  # Server.close() leaves accepted connections open
            if protocol.transport is not None:
                protocol.transport.close()


async def test_ipv6_literal(smtp: CheckType) -> None:
    # No A record for "::1": the AAAA fallback connects.
    async with serve_aiosmtpd("::1") as port:
        expect(await check(smtp, target="::1", port=port), "up", 250, "Connected")


async def test_starttls_not_offered(smtp: CheckType) -> None:
    async with serve_aiosmtpd(HOST) as port:
        result = await check(smtp, port=port, secure="starttls")
        expect(result, "down", "error", "STARTTLS not supported by the server")
        # The same server passes without STARTTLS.
        expect(await check(smtp, port=port), "up", 250, "Connected")


@pytest.mark.parametrize("invert", [False, True])
async def test_utf8_recipient_without_smtputf8(smtp: CheckType, invert: bool) -> None:
    # Not an answer about the address, so invert does not turn it into a pass.
    async with serve_aiosmtpd(HOST) as port:
        result = await check(smtp, port=port, email="jürgen@example.com", invert=invert)
    expect(result, "down", "error", "Server does not support SMTPUTF8 for address jürgen@example.com")


async def test_refused(smtp: CheckType, closed_port: int) -> None:
    expect(await check(smtp, port=closed_port), "down", "error", "Connection refused")


@pytest.mark.parametrize("secure", [False, "ssl"])
async def test_silent_server_times_out(smtp: CheckType, silent_reader_port: int, secure: str | bool) -> None:
    result = await check(smtp, port=silent_reader_port, secure=secure, deadline=0.5)
    expect(result, "down", "Timeout", "Timeout")


async def test_unresolvable_host(smtp: CheckType) -> None:
    result = await check(smtp, target="no-such-host.invalid", port=25)
    assert (result.status, result.code) == ("down", "error")
    assert "no-such-host.invalid" in result.message


@pytest.mark.parametrize(
    ("target", "params", "message"),
    [
        ("", {}, "Missing target"),
        (HOST, {"email": "a@example.com\r\nDATA"}, "email must be one address such as user@example.com"),
        (HOST, {"email": "Someone <a@example.com>"}, "email must be one address such as user@example.com"),
    ],
)
async def test_config_errors(smtp: CheckType, target: str, params: dict[str, Any], message: str) -> None:
    result = await check(smtp, target=target, port=1, **params)
    assert (result.status, result.message, result.config_error) == ("down", message, True)


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {},
            {"port": 25, "secure": False, "verify": True, "username": None, "email": None, "invert": False},
        ),
        ({"secure": "StartTLS", "port": "587"}, {"secure": "starttls", "port": 587}),
        ({"secure": "ssl", "port": 465, "verify": "False"}, {"secure": "ssl", "verify": False}),
        (
            {"email": "postmaster@example.com", "invert": "1", "warningdays": "30"},
            {"invert": True, "warningdays": 30},
        ),
    ],
)
def test_valid_params(smtp: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    dumped = smtp.params.model_validate(params).model_dump()
    assert {key: dumped[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"secure": "smtps"}, "secure: Input should be False, 'ssl' or 'starttls'"),
        ({"port": ""}, "port: Input should be a valid integer, unable to parse string as an integer"),
        ({"port": 0}, "port: Input should be greater than or equal to 1"),
        ({"invert": "maybe"}, "invert: Input should be a valid boolean, unable to interpret input"),
        ({"warningdays": -2}, "warningdays: Input should be greater than or equal to 0"),
        ({"contentstring": "250"}, "contentstring: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(smtp: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        smtp.params.model_validate(params)
    assert validation_message(excinfo.value) == message


def test_password_is_a_secret(smtp: CheckType) -> None:
    assert smtp.params.SECRET_FIELDS == frozenset({"password"})
