"""POP3 against a real Dovecot (POP3 with STLS, POP3S) with a self-signed certificate.

Also: exim (an SMTP banner is not a POP3 greeting), an in-process listener that never speaks (the runner's
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
def pop3() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.pop3"]).get("POP3")


def _logouts(server: DovecotServer) -> int:
    with open(server.log, errors="replace") as f:
        return sum(1 for line in f if " pop3(" in line and "Logged out" in line)


# --- up -------------------------------------------------------------------------------------------


async def test_greeting_without_credentials_is_connected(
    pop3: CheckType, dovecot_server: DovecotServer
) -> None:
    result = await check(pop3, port=dovecot_server.pop3)
    expect(result, "up", "Connected", "Connected")
    assert result.duration_ms > 0


async def test_login_success(pop3: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(pop3, port=str(dovecot_server.pop3), username="tester", password="testpw")
    expect(result, "up", "Login success", "Login success")


@pytest.mark.parametrize("user", sorted(EXTRA_USERS))
async def test_passwords_with_quotes_spaces_and_8bit(
    pop3: CheckType, dovecot_server: DovecotServer, user: str
) -> None:
    result = await check(pop3, port=dovecot_server.pop3, username=user, password=EXTRA_USERS[user])
    expect(result, "up", "Login success", "Login success")


async def test_stls_without_credentials(pop3: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(pop3, port=dovecot_server.pop3, secure="starttls", verify=False)
    expect(result, "up", "Connected", "Connected")


async def test_stls_login(pop3: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(
        pop3, port=dovecot_server.pop3, secure="starttls", verify="0", username="tester", password="testpw"
    )
    expect(result, "up", "Login success", "Login success")


async def test_pop3s_login_ends_with_quit(pop3: CheckType, dovecot_server: DovecotServer) -> None:
    before = _logouts(dovecot_server)
    result = await check(
        pop3, port=dovecot_server.pop3s, secure="ssl", verify=False, username="tester", password="testpw"
    )
    expect(result, "up", "Login success", "Login success")
    wait_until(lambda: _logouts(dovecot_server) > before, None, timeout=5)


@pytest.mark.usefixtures("trust_mail_certificate")
@pytest.mark.parametrize("secure", ["ssl", "starttls"])
async def test_verified_certificate(pop3: CheckType, dovecot_server: DovecotServer, secure: str) -> None:
    port = dovecot_server.pop3s if secure == "ssl" else dovecot_server.pop3
    result = await check(pop3, port=port, secure=secure, verify=True, username="tester", password="testpw")
    expect(result, "up", "Login success", "Login success")


async def test_certificate_outside_warningdays(pop3: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(pop3, port=dovecot_server.pop3s, secure="tls", verify=False, warningdays=1)
    expect(result, "up", "Connected", "Connected")


# --- down -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "password"), [("tester", "wrong"), ("nobody-here", "testpw")])
async def test_wrong_credentials(
    pop3: CheckType, dovecot_server: DovecotServer, user: str, password: str
) -> None:
    result = await check(pop3, port=dovecot_server.pop3, username=user, password=password)
    expect(result, "down", "Login failure", "Login failure")
    assert password not in repr(result)


async def test_wrong_password_over_pop3s(pop3: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(
        pop3, port=dovecot_server.pop3s, secure="ssl", verify=False, username="tester", password="nope"
    )
    expect(result, "down", "Login failure", "Login failure")


@pytest.mark.parametrize("secure", ["ssl", "starttls"])
async def test_self_signed_certificate_fails_verification(
    pop3: CheckType, dovecot_server: DovecotServer, secure: str
) -> None:
    port = dovecot_server.pop3s if secure == "ssl" else dovecot_server.pop3
    result = await check(pop3, port=port, secure=secure, username="tester", password="testpw")
    expect(result, "down", "error", "SSL Cert error: self-signed certificate")


@pytest.mark.parametrize("secure", ["ssl", "starttls"])
async def test_certificate_within_warningdays(
    pop3: CheckType, dovecot_server: DovecotServer, mail_certificate: MailCertificate, secure: str
) -> None:
    port = dovecot_server.pop3s if secure == "ssl" else dovecot_server.pop3
    result = await check(pop3, port=port, secure=secure, verify=False, warningdays="3")
    expires = f"{mail_certificate.not_after:%Y-%m-%d %H:%M:%S} UTC"
    expect(result, "down", "Certificate", f"Certificate expires {expires}")


async def test_implicit_tls_on_a_plain_port(pop3: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(pop3, port=dovecot_server.pop3, secure="ssl", verify=False)
    expect(result, "down", "error", f"SSL not running on port {dovecot_server.pop3}")


async def test_imap_greeting_is_not_pop3(pop3: CheckType, dovecot_server: DovecotServer) -> None:
    result = await check(pop3, port=dovecot_server.imap)
    expect_prefix(result, "down", "error", "Unexpected greeting: * OK [CAPABILITY IMAP4rev1")


async def test_smtp_banner_is_not_pop3(pop3: CheckType, exim_server: EximServer) -> None:
    result = await check(pop3, port=exim_server.smtp)
    expect_prefix(result, "down", "error", "Unexpected greeting: 220 mail.test ESMTP Exim")


async def test_refused(pop3: CheckType, closed_port: int) -> None:
    expect(await check(pop3, port=closed_port), "down", "error", "Unable to connect: Connection refused")


async def test_silent_server_times_out(pop3: CheckType, silent_reader_port: int) -> None:
    expect(await check(pop3, port=silent_reader_port, deadline=0.5), "down", "Timeout", "Timeout")


async def test_unresolvable_host(pop3: CheckType) -> None:
    result = await check(pop3, target="no-such-host.invalid", port=110)
    assert (result.status, result.code) == ("down", "error")
    assert "no-such-host.invalid" in result.message


@pytest.mark.parametrize(
    ("target", "params", "message"),
    [
        ("", {}, "Missing target"),
        (
            HOST,
            {"username": "tester", "password": "pw\r\nQUIT"},
            "password must not contain line breaks or NUL characters",
        ),
        (HOST, {"username": "a\0b"}, "username must not contain line breaks or NUL characters"),
    ],
)
async def test_config_errors(pop3: CheckType, target: str, params: dict[str, Any], message: str) -> None:
    result = await check(pop3, target=target, port=1, **params)
    assert (result.status, result.message, result.config_error) == ("down", message, True)


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {},
            {
                "port": 110,
                "secure": False,
                "verify": True,
                "username": None,
                "password": None,
                "warningdays": None,
            },
        ),
        ({"secure": "starttls", "port": "1110"}, {"secure": "starttls", "port": 1110}),
        (
            {"secure": True, "verify": 0, "warningdays": 0},
            {"secure": "ssl", "verify": False, "warningdays": 0},
        ),
        ({"secure": "false", "email": "ignored@example.com"}, {"secure": False}),
    ],
)
def test_valid_params(pop3: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    dumped = pop3.params.model_validate(params).model_dump()
    assert {key: dumped[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"secure": "pop3s"}, "secure: Input should be False, 'ssl' or 'starttls'"),
        ({"port": 70000}, "port: Input should be less than or equal to 65535"),
        ({"verify": "perhaps"}, "verify: Input should be a valid boolean, unable to interpret input"),
        (
            {"warningdays": "soon"},
            "warningdays: Input should be a valid integer, unable to parse string as an integer",
        ),
        ({"contentstring": "x"}, "contentstring: Extra inputs are not permitted"),
    ],
)
def test_invalid_params(pop3: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        pop3.params.model_validate(params)
    assert validation_message(excinfo.value) == message


def test_password_is_a_secret(pop3: CheckType) -> None:
    assert pop3.params.SECRET_FIELDS == frozenset({"password"})
