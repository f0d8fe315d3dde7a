"""IMAP4 against a real Dovecot (IMAP with STARTTLS, IMAPS) with a self-signed certificate.

Also: exim (an SMTP banner is not an IMAP greeting), an in-process listener that never speaks (the runner's
timeout) and a port nobody listens on.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from servers.checkrun import HOST, check, expect, expect_prefix
from servers.common import wait_until
from servers.dovecot import EXTRA_USERS, DovecotServer
from servers.exim import EximServer
from servers.mailcert import MailCertificate

from prober.registry import CheckType, load_registry
from prober.runner import validation_message

# One worker runs every mail test, so dovecot and exim start once per run (scripts/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("mail")


@pytest.fixture(scope="module")
def imap() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.imap4"]).get("IMAP4")


# --- up -------------------------------------------------------------------------------------------


async def test_greeting_without_credentials_is_connected(
    imap: CheckType, dovecot_server: DovecotServer
) -> None:
    result = await check(imap, port=dovecot_server.imap)
    expect(result, "up", "Connected", "Connected")
    assert result.duration_ms > 0


async def test_login_success(imap: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(imap, port=dovecot_server.imap, username="tester", password="testpw")
    expect(result, "up", "Login success", "Login success")


@pytest.mark.parametrize("user", sorted(EXTRA_USERS))
async def test_passwords_that_need_quoting_or_a_literal(
    imap: CheckType, dovecot_server: DovecotServer, user: str
) -> None:
    result = await check(imap, port=dovecot_server.imap, username=user, password=EXTRA_USERS[user])
    expect(result, "up", "Login success", "Login success")


async def test_starttls_without_credentials(imap: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(imap, port=dovecot_server.imap, secure="starttls", verify=False)
    expect(result, "up", "Connected", "Connected")


async def test_starttls_login(imap: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(
        imap,
        port=dovecot_server.imap,
        secure="starttls",
        verify="false",
        username="tester",
        password="testpw",
    )
    expect(result, "up", "Login success", "Login success")


async def test_imaps_login(imap: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(
        imap, port=dovecot_server.imaps, secure="ssl", verify=False, username="tester", password="testpw"
    )
    expect(result, "up", "Login success", "Login success")


@pytest.mark.usefixtures("trust_mail_certificate")
@pytest.mark.parametrize("secure", ["ssl", "starttls"])
async def test_verified_certificate(imap: CheckType, dovecot_server: DovecotServer, secure: str) -> None:
    port = dovecot_server.imaps if secure == "ssl" else dovecot_server.imap
    result = await check(imap, port=port, secure=secure, verify=True, username="tester", password="testpw")
    expect(result, "up", "Login success", "Login success")


@pytest.mark.usefixtures("trust_mail_certificate")
async def test_verified_certificate_by_host_name(imap: CheckType, dovecot_server: DovecotServer) -> None:
    # "localhost" resolves to 127.0.0.1 first (A before AAAA) and matches the certificate's DNS name.
    result = await check(imap, target="localhost", port=dovecot_server.imaps, secure="ssl", verify=True)
    expect(result, "up", "Connected", "Connected")


async def test_certificate_outside_warningdays(imap: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(imap, port=dovecot_server.imaps, secure="ssl", verify=False, warningdays=1)
    expect(result, "up", "Connected", "Connected")


async def test_session_ends_with_logout(imap: CheckType, dovecot_server: DovecotServer) -> None:
    before = _logouts(dovecot_server)
    result = await check(
        imap, port=dovecot_server.imaps, secure="ssl", verify=False, username="tester", password="testpw"
    )
    expect(result, "up", "Login success", "Login success")
    wait_until(lambda: _logouts(dovecot_server) > before, None, timeout=5)


def _logouts(server: DovecotServer) -> int:
    with open(server.log, errors="replace") as f:
        return sum(1 for line in f if " imap(" in line and "Logged out" in line)


# --- down -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "password"), [("tester", "wrong"), ("nobody-here", "testpw"), ("tester", None)]
)
async def test_wrong_credentials(
    imap: CheckType, dovecot_server: DovecotServer, user: str, password: str | None
) -> None:
    result = await check(imap, port=dovecot_server.imap, username=user, password=password)
    expect(result, "down", "AUTHENTICATIONFAILED", "Login failed")


async def test_wrong_password_over_imaps(imap: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(
        imap, port=dovecot_server.imaps, secure="ssl", verify=False, username="tester", password="s3cret!"
    )
    expect(result, "down", "AUTHENTICATIONFAILED", "Login failed")
    assert "s3cret!" not in repr(result)


@pytest.mark.parametrize("secure", ["ssl", "starttls"])
async def test_self_signed_certificate_fails_verification(
    imap: CheckType, dovecot_server: DovecotServer, secure: str
) -> None:
    port = dovecot_server.imaps if secure == "ssl" else dovecot_server.imap
    result = await check(imap, port=port, secure=secure, username="tester", password="testpw")
    expect(result, "down", "error", "SSL cert failed: self-signed certificate")


@pytest.mark.parametrize("secure", ["ssl", "starttls"])
async def test_certificate_within_warningdays(
    imap: CheckType, dovecot_server: DovecotServer, mail_certificate: MailCertificate, secure: str
) -> None:
    port = dovecot_server.imaps if secure == "ssl" else dovecot_server.imap
    result = await check(imap, port=port, secure=secure, verify=False, warningdays=3)
    expires = f"{mail_certificate.not_after:%Y-%m-%d %H:%M:%S} UTC"
    expect(result, "down", "Certificate", f"Certificate expires {expires}")


async def test_implicit_tls_on_a_plain_port(imap: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(imap, port=dovecot_server.imap, secure="ssl", verify=False)
    expect(result, "down", "error", "SSL check on non-ssl port")


async def test_pop3_greeting_is_not_imap(imap: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(imap, port=dovecot_server.pop3)
    expect_prefix(result, "down", "error", "Unexpected greeting: +OK Dovecot")


async def test_smtp_banner_is_not_imap(imap: CheckType, exim_server: EximServer) -> None:
    result = await check(imap, port=exim_server.smtp)
    expect_prefix(result, "down", "error", "Unexpected greeting: 220 mail.test ESMTP Exim")


async def test_refused(imap: CheckType, closed_port: int) -> None:
    expect(await check(imap, port=closed_port), "down", "error", "Connection refused")


async def test_silent_server_times_out(imap: CheckType, silent_reader_port: int) -> None:
    expect(await check(imap, port=silent_reader_port, deadline=0.5), "down", "Timeout", "Timeout")


async def test_unresolvable_host(imap: CheckType) -> None:
    result = await check(imap, target="no-such-host.invalid", port=143)
    assert (result.status, result.code) == ("down", "error")
    assert "no-such-host.invalid" in result.message


@pytest.mark.parametrize(
    ("target", "params", "message"),
    [
        ("", {}, "Missing target"),
        (
            HOST,
            {"username": "tester", "password": "pw\r\nV9 LOGOUT"},
            "password must not contain line breaks or NUL characters",
        ),
        (HOST, {"username": "a\nb"}, "username must not contain line breaks or NUL characters"),
    ],
)
async def test_config_errors(imap: CheckType, target: str, params: dict[str, Any], message: str) -> None:
    result = await check(imap, target=target, port=1, **params)
    assert (result.status, result.message, result.config_error) == ("down", message, True)


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {},
            {
                "port": 143,
                "secure": False,
                "verify": True,
                "username": None,
                "password": None,
                "warningdays": None,
            },
        ),
        ({"secure": "STARTTLS", "port": "1143"}, {"secure": "starttls", "port": 1143}),
        (
            {"secure": "tls", "verify": "false", "warningdays": "7"},
            {"secure": "ssl", "verify": False, "warningdays": 7},
        ),
        ({"secure": "", "email": "ignored@example.com", "username": 42}, {"secure": False, "username": "42"}),
    ],
)
def test_valid_params(imap: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    dumped = imap.params.model_validate(params).model_dump()
    assert {key: dumped[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"secure": "imaps"}, "secure: Input should be False, 'ssl' or 'starttls'"),
        ({"port": 0}, "port: Input should be greater than or equal to 1"),
        ({"port": "imap"}, "port: Input should be a valid integer, unable to parse string as an integer"),
        ({"verify": "sometimes"}, "verify: Input should be a valid boolean, unable to interpret input"),
        ({"warningdays": -1}, "warningdays: Input should be greater than or equal to 0"),
        ({"invert": True}, "invert: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(imap: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        imap.params.model_validate(params)
    assert validation_message(excinfo.value) == message


def test_password_is_a_secret(imap: CheckType) -> None:
    assert imap.params.SECRET_FIELDS == frozenset({"password"})
