"""FTP against a real Debian vsftpd (tests/servers/vsftpd.py, plain + explicit FTPS), in-process aioftp
servers (anonymous logins, no AUTH TLS, implicit FTPS) and scripted asyncio listeners (broken servers).

vsftpd answers a failed PAM login only after ~2 s (pam_unix's delay, a system setting), so only the two
tests that need a refused login from the real server pay it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aioftp
import pytest
import pytest_asyncio
import trustme
from pydantic import ValidationError
from servers.checkrun import outcome
from servers.ports import StartServer
from servers.vsftpd import FtpServer

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message


@pytest.fixture(scope="module")
def ftp() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.ftp"]).get("FTP")


async def check(
    ftp: CheckType, port: int, target: str = "127.0.0.1", seconds: float = 5.0, **params: Any
) -> CheckResult:
    ctx = CheckContext(target=target, threshold=int(seconds) or 1, timeout=seconds)
    return await run_check(ftp, {"port": port, **params}, ctx)


# --- params ---------------------------------------------------------------------------------------

VALID: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {"port": 21, "secure": False, "verify": True, "username": None, "contentstring": None}),
    ({"secure": "false", "verify": "false"}, {"secure": False, "verify": False}),
    ({"secure": True}, {"secure": "explicit", "port": 21}),
    ({"secure": "true"}, {"secure": "explicit"}),
    ({"secure": "SSL"}, {"secure": "explicit"}),
    ({"secure": "tls"}, {"secure": "explicit"}),
    ({"secure": "starttls"}, {"secure": "explicit"}),
    ({"secure": "explicit"}, {"secure": "explicit"}),
    ({"secure": "implicit"}, {"secure": "implicit", "port": 990}),
    ({"secure": "Implicit", "port": "2990"}, {"secure": "implicit", "port": 2990}),
    ({"secure": "implicit", "port": 21}, {"secure": "implicit", "port": 21}),
    ({"conteststring": "vsFTPd"}, {"contentstring": "vsFTPd"}),
    ({"username": "bob", "password": ""}, {"username": "bob", "password": ""}),
]

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"secure": "sometimes"}, "secure: Input should be False, 'explicit' or 'implicit'"),
    ({"secure": 2}, "secure: Input should be False, 'explicit' or 'implicit'"),
    ({"verify": "perhaps"}, "verify: Input should be a valid boolean, unable to interpret input"),
    ({"username": "bob\r\nDELE x"}, "username: Value error, must not contain line breaks"),
    ({"password": "pw\nQUIT"}, "password: Value error, must not contain line breaks"),
    ({"hostkey": "x"}, "hostkey: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("payload", "expected"), VALID)
def test_valid_params(ftp: CheckType, payload: dict[str, Any], expected: dict[str, Any]) -> None:
    dumped = ftp.params.model_validate(payload).model_dump()
    assert {key: dumped[key] for key in expected} == expected


@pytest.mark.parametrize(("payload", "message"), INVALID)
def test_invalid_params(ftp: CheckType, payload: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ftp.params.model_validate(payload)
    assert validation_message(caught.value) == message


async def test_missing_target(ftp: CheckType) -> None:
    result = await check(ftp, 21, target="")
    assert (result.status, result.message, result.config_error) == ("down", "Missing target", True)


# --- against vsftpd -------------------------------------------------------------------------------


def login(server: FtpServer) -> dict[str, Any]:
    return {"username": server.user, "password": server.password}


async def test_login(ftp: CheckType, vsftpd_server: FtpServer) -> None:
    result = await check(ftp, vsftpd_server.port, **login(vsftpd_server))
    assert outcome(result) == ("up", "Logged in", "Logged in as ftptest")


async def test_host_name_target(ftp: CheckType, vsftpd_server: FtpServer) -> None:
    result = await check(ftp, vsftpd_server.port, target="localhost", **login(vsftpd_server))
    assert outcome(result) == ("up", "Logged in", "Logged in as ftptest")


async def test_port_check_mode_passes_a_refused_anonymous_login(
    ftp: CheckType, vsftpd_server: FtpServer
) -> None:
    result = await check(ftp, vsftpd_server.port)
    assert outcome(result) == ("up", "Connected", "FTP connected but login failed")


async def test_wrong_password(ftp: CheckType, vsftpd_server: FtpServer) -> None:
    result = await check(ftp, vsftpd_server.port, username=vsftpd_server.user, password="wrong-secret-42")
    assert outcome(result) == ("down", 530, "Failed: 530 Login incorrect.")
    assert "wrong-secret-42" not in repr(result)


async def test_content_in_banner(ftp: CheckType, vsftpd_server: FtpServer) -> None:
    result = await check(ftp, vsftpd_server.port, contentstring="Vedette test FTP", **login(vsftpd_server))
    assert outcome(result) == ("up", "Found", "Found content string in banner")


async def test_content_not_in_banner(ftp: CheckType, vsftpd_server: FtpServer) -> None:
    result = await check(ftp, vsftpd_server.port, contentstring="ProFTPD", **login(vsftpd_server))
    assert outcome(result) == ("down", "Not found", "Content string not found in banner")


async def test_invert_swaps_the_content_outcome(ftp: CheckType, vsftpd_server: FtpServer) -> None:
    missing = await check(
        ftp, vsftpd_server.port, contentstring="ProFTPD", invert=True, **login(vsftpd_server)
    )
    assert outcome(missing) == ("up", "Not found", "Content string not found in banner")
    found = await check(
        ftp, vsftpd_server.port, conteststring="(vsftpd)", invert="true", **login(vsftpd_server)
    )
    assert outcome(found) == ("down", "Found", "Found content string in banner")


async def test_explicit_tls_without_verification(ftp: CheckType, vsftpd_server: FtpServer) -> None:
    result = await check(ftp, vsftpd_server.port, secure="explicit", verify=False, **login(vsftpd_server))
    assert outcome(result) == ("up", "Logged in", "Logged in as ftptest")


async def test_explicit_tls_verified(
    ftp: CheckType, vsftpd_server: FtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", vsftpd_server.ca_file)  # trust the fixture's CA
    for target in ("localhost", "127.0.0.1"):
        result = await check(ftp, vsftpd_server.port, target=target, secure=True, **login(vsftpd_server))
        assert outcome(result) == ("up", "Logged in", "Logged in as ftptest"), target


async def test_explicit_tls_untrusted_certificate(ftp: CheckType, vsftpd_server: FtpServer) -> None:
    result = await check(ftp, vsftpd_server.port, secure="ssl", **login(vsftpd_server))
    assert outcome(result) == (
        "down",
        "error",
        "Failed: TLS error: certificate verify failed: unable to get local issuer certificate",
    )


async def test_implicit_tls_against_a_plain_port(ftp: CheckType, vsftpd_server: FtpServer) -> None:
    result = await check(ftp, vsftpd_server.port, secure="implicit", verify=False)
    assert outcome(result) == ("down", "error", "Failed: TLS error: WRONG_VERSION_NUMBER")


# --- in-process aioftp servers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest_asyncio.fixture
async def aioftp_server(tls_ca: trustme.CA) -> AsyncIterator[Callable[..., Awaitable[int]]]:
    servers: list[aioftp.Server] = []

    async def start(users: Sequence[aioftp.User], implicit_tls: bool = False) -> int:
        context = None
        if implicit_tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls_ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        server = aioftp.Server(users, ssl=context)
        await server.start("127.0.0.1", 0)
        servers.append(server)
        port: int = server.server.sockets[0].getsockname()[1]
        return port

    yield start
    for server in servers:
        await server.close()


async def test_anonymous_login_accepted(ftp: CheckType, aioftp_server: Any) -> None:
    port = await aioftp_server([aioftp.User()])
    result = await check(ftp, port)
    assert outcome(result) == ("up", "Logged in", "Logged in as anonymous")


async def test_port_check_mode_with_content(ftp: CheckType, aioftp_server: Any) -> None:
    port = await aioftp_server([aioftp.User(login="bob", password="pw")])
    # aioftp greets with "220 welcome"; the anonymous login is refused, the banner decides.
    found = await check(ftp, port, contentstring="welcome")
    assert outcome(found) == ("up", "Found", "Found content string in banner")
    missing = await check(ftp, port, contentstring="vsFTPd")
    assert outcome(missing) == ("down", "Not found", "Content string not found in banner")


async def test_server_without_auth_tls(ftp: CheckType, aioftp_server: Any) -> None:
    port = await aioftp_server([aioftp.User()])
    result = await check(ftp, port, secure=True)
    assert outcome(result) == ("down", 502, "Failed: AUTH TLS refused: 502 'auth' not implemented")


async def test_implicit_tls(
    ftp: CheckType, aioftp_server: Any, tls_ca: trustme.CA, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = await aioftp_server([aioftp.User(login="bob", password="pw")], implicit_tls=True)
    unverified = await check(ftp, port, secure="implicit", verify=False, username="bob", password="pw")
    assert outcome(unverified) == ("up", "Logged in", "Logged in as bob")
    untrusted = await check(ftp, port, secure="implicit", username="bob", password="pw")
    assert outcome(untrusted) == (
        "down",
        "error",
        "Failed: TLS error: certificate verify failed: unable to get local issuer certificate",
    )
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    verified = await check(ftp, port, target="localhost", secure="implicit", username="bob", password="pw")
    assert outcome(verified) == ("up", "Logged in", "Logged in as bob")
    wrong = await check(ftp, port, secure="implicit", verify=False, username="bob", password="nope")
    assert outcome(wrong) == ("down", 530, "Failed: 530 wrong password")


# --- scripted listeners: refused, silent, broken servers ------------------------------------------


@pytest.fixture
def scripted(tcp_servers: StartServer) -> Callable[..., Awaitable[int]]:
    """A listener that sends ``greeting`` and then one entry of ``replies`` per command line received
    (``None`` closes the connection); ``None`` as the greeting accepts and never speaks."""

    async def start(greeting: bytes | None, replies: Sequence[bytes | None] = ()) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                if greeting is None:
                    await reader.read()
                    return
                writer.write(greeting)
                await writer.drain()
                for reply in replies:
                    if not await reader.readline() or reply is None:
                        break
                    writer.write(reply)
                    await writer.drain()
            finally:
                writer.close()

        return await tcp_servers(handle)

    return start


async def test_connection_refused(ftp: CheckType, closed_port: int) -> None:
    result = await check(ftp, closed_port)
    assert outcome(result) == ("down", "error", "Failed: Connection refused")


async def test_silent_server_times_out(ftp: CheckType, scripted: Any) -> None:
    port = await scripted(None)
    result = await check(ftp, port, seconds=0.5)
    assert outcome(result) == ("down", "Timeout", "Timeout")
    assert 450 <= result.duration_ms < 2000


async def test_closed_before_greeting(ftp: CheckType, scripted: Any) -> None:
    port = await scripted(b"")
    result = await check(ftp, port)
    assert outcome(result) == ("down", "error", "Failed: Connection closed by server")


async def test_not_an_ftp_server(ftp: CheckType, scripted: Any) -> None:
    port = await scripted(b"SSH-2.0-OpenSSH_9.2\r\n")
    result = await check(ftp, port)
    assert outcome(result) == ("down", "error", "Failed: Unexpected reply: SSH-2.0-OpenSSH_9.2")


async def test_busy_greeting(ftp: CheckType, scripted: Any) -> None:
    port = await scripted(b"421 Too many connections, try later\r\n")
    result = await check(ftp, port)
    assert outcome(result) == ("down", 421, "Failed: 421 Too many connections, try later")


async def test_multi_line_and_delayed_greeting(ftp: CheckType, scripted: Any) -> None:
    greeting = (
        b"120 Ready in 1 minute\r\n220-Welcome\r\n 220 is not the end\r\n220-Second line\r\n220 Ready\r\n"
    )
    port = await scripted(greeting, [b"331 Password please\r\n", b"230 OK\r\n"])
    result = await check(ftp, port, username="bob", password="pw", contentstring="Second line")
    assert outcome(result) == ("up", "Found", "Found content string in banner")


async def test_user_accepted_without_password(ftp: CheckType, scripted: Any) -> None:
    port = await scripted(b"220 Hi\r\n", [b"230 No password needed\r\n"])
    result = await check(ftp, port, username="guest")
    assert outcome(result) == ("up", "Logged in", "Logged in as guest")


async def test_closed_during_login(ftp: CheckType, scripted: Any) -> None:
    port = await scripted(b"220 Hi\r\n", [None])
    anonymous = await check(ftp, port)
    assert outcome(anonymous) == ("up", "Connected", "FTP connected but login failed")
    with_credentials = await check(ftp, port, username="bob", password="pw")
    assert outcome(with_credentials) == ("down", "error", "Failed: Connection closed by server")


async def test_account_required_is_a_failed_login(ftp: CheckType, scripted: Any) -> None:
    port = await scripted(b"220 Hi\r\n", [b"331 Password\r\n", b"332 Need account for login.\r\n"])
    result = await check(ftp, port, username="bob", password="pw")
    assert outcome(result) == ("down", 332, "Failed: 332 Need account for login.")
