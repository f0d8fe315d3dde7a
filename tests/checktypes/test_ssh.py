"""SSH against a real Debian OpenSSH server (tests/servers/sshd.py) and in-process asyncssh servers.

sshd covers the handshake, password and public-key logins, the banner and a real shell on a pty; asyncssh
servers on port 0 cover what sshd is not configured for here (keyboard-interactive only, no authentication,
a shell with a known greeting, refused sessions). Plain asyncio listeners give the connection failures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncssh
import pytest
import pytest_asyncio
from pydantic import ValidationError
from servers.checkrun import outcome
from servers.ports import StartServer
from servers.sshd import SshServer

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message


@pytest.fixture(scope="module")
def ssh() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.ssh"]).get("SSH")


async def check(
    ssh: CheckType, port: int, target: str = "127.0.0.1", seconds: float = 5.0, **params: Any
) -> CheckResult:
    ctx = CheckContext(target=target, threshold=int(seconds) or 1, timeout=seconds)
    return await run_check(ssh, {"port": port, **params}, ctx)


# --- params ---------------------------------------------------------------------------------------

HOST_KEY = asyncssh.generate_private_key("ssh-ed25519")
HOST_PUBLIC_KEY = HOST_KEY.export_public_key().decode().strip()
FINGERPRINT = HOST_KEY.get_fingerprint("sha256")

VALID: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {"port": 22, "hostkey": None, "sshkey": None, "invert": False}),
    ({"hostkey": ""}, {"hostkey": None}),
    ({"hostkey": FINGERPRINT}, {"hostkey": FINGERPRINT}),
    ({"hostkey": f"  {HOST_PUBLIC_KEY} comment "}, {"hostkey": f"{HOST_PUBLIC_KEY} comment"}),
    ({"hostkey": "MD5:" + ":".join(["ab"] * 16)}, {"hostkey": "MD5:" + ":".join(["ab"] * 16)}),
]

INVALID: list[tuple[dict[str, Any], str]] = [
    (
        {"hostkey": "SHA256:short"},
        "hostkey: Value error, must be an OpenSSH public key line or a SHA256: fingerprint",
    ),
    (
        {"hostkey": "ssh-ed25519 AAAA"},
        "hostkey: Value error, must be an OpenSSH public key line or a SHA256: fingerprint",
    ),
    ({"sshkey": ["a"]}, "sshkey: Input should be a valid string"),
    ({"ipv6": "both"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
]


@pytest.mark.parametrize(("payload", "expected"), VALID)
def test_valid_params(ssh: CheckType, payload: dict[str, Any], expected: dict[str, Any]) -> None:
    dumped = ssh.params.model_validate(payload).model_dump()
    assert {key: dumped[key] for key in expected} == expected


@pytest.mark.parametrize(("payload", "message"), INVALID)
def test_invalid_params(ssh: CheckType, payload: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ssh.params.model_validate(payload)
    assert validation_message(caught.value) == message


def test_secrets(ssh: CheckType) -> None:
    assert ssh.params.SECRET_FIELDS == frozenset({"password", "sshkey"})


# --- against the Debian sshd ----------------------------------------------------------------------


async def test_handshake_without_credentials(ssh: CheckType, sshd_server: SshServer) -> None:
    result = await check(ssh, sshd_server.port)
    assert outcome(result) == ("up", "Connected", "SSH connected but login failed")


async def test_password_login(ssh: CheckType, sshd_server: SshServer) -> None:
    result = await check(ssh, sshd_server.port, username=sshd_server.user, password=sshd_server.password)
    assert outcome(result) == ("up", "Logged in", "Logged in as sshtest")


async def test_host_name_target(ssh: CheckType, sshd_server: SshServer) -> None:
    result = await check(
        ssh, sshd_server.port, target="localhost", username=sshd_server.user, password=sshd_server.password
    )
    assert outcome(result) == ("up", "Logged in", "Logged in as sshtest")


async def test_wrong_password(ssh: CheckType, sshd_server: SshServer) -> None:
    result = await check(ssh, sshd_server.port, username=sshd_server.user, password="wrong-secret-42")
    assert outcome(result) == ("down", "error", "Password authentication failed")
    assert "wrong-secret-42" not in repr(result)


async def test_private_key_given_directly(ssh: CheckType, sshd_server: SshServer) -> None:
    result = await check(ssh, sshd_server.port, username=sshd_server.user, sshkey=sshd_server.client_key)
    assert outcome(result) == ("up", "Logged in", "Logged in as sshtest")


async def test_private_key_by_id(
    ssh: CheckType, sshd_server: SshServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    (tmp_path / "K3Y01").write_text(sshd_server.client_key)
    monkeypatch.setenv("VEDETTE_SSH_KEYS_DIR", str(tmp_path))
    result = await check(ssh, sshd_server.port, username=sshd_server.user, sshkey="K3Y01")
    assert outcome(result) == ("up", "Logged in", "Logged in as sshtest")


async def test_unauthorised_private_key(ssh: CheckType, sshd_server: SshServer) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    result = await check(ssh, sshd_server.port, username=sshd_server.user, sshkey=other)
    assert outcome(result) == ("down", "error", "SSH private key authentication failed")


async def test_content_in_version_string(ssh: CheckType, sshd_server: SshServer) -> None:
    result = await check(ssh, sshd_server.port, contentstring="OpenSSH_")
    assert outcome(result) == ("up", "Found", "Found content string in banner")


async def test_content_in_pre_auth_banner(ssh: CheckType, sshd_server: SshServer) -> None:
    result = await check(ssh, sshd_server.port, contentstring="authorised use only")
    assert outcome(result) == ("up", "Found", "Found content string in banner")


async def test_content_missing_without_login(ssh: CheckType, sshd_server: SshServer) -> None:
    result = await check(ssh, sshd_server.port, contentstring="Dropbear")
    assert outcome(result) == ("down", "Not found", "Content string not found in banner")


async def test_content_missing_after_login_reads_the_shell(ssh: CheckType, sshd_server: SshServer) -> None:
    result = await check(
        ssh,
        sshd_server.port,
        username=sshd_server.user,
        password=sshd_server.password,
        contentstring="no such greeting",
    )
    assert outcome(result) == ("down", "Not found", "Content string not found in login reply")


async def test_invert_swaps_the_content_outcome(ssh: CheckType, sshd_server: SshServer) -> None:
    missing = await check(ssh, sshd_server.port, contentstring="Dropbear", invert=True)
    assert outcome(missing) == ("up", "Not found", "Content string not found in banner")
    found = await check(ssh, sshd_server.port, contentstring="OpenSSH", invert="true")
    assert outcome(found) == ("down", "Found", "Found content string in banner")


async def test_invert_does_not_rescue_a_failed_login(ssh: CheckType, sshd_server: SshServer) -> None:
    result = await check(
        ssh, sshd_server.port, username=sshd_server.user, password="nope", contentstring="x", invert=True
    )
    assert outcome(result) == ("down", "error", "Password authentication failed")


async def test_pinned_host_key(ssh: CheckType, sshd_server: SshServer) -> None:
    login: dict[str, Any] = {"username": sshd_server.user, "password": sshd_server.password}
    for pinned in (sshd_server.host_public_key, sshd_server.host_key_fingerprint):
        result = await check(ssh, sshd_server.port, hostkey=pinned, **login)
        assert outcome(result) == ("up", "Logged in", "Logged in as sshtest"), pinned


async def test_wrong_host_key(ssh: CheckType, sshd_server: SshServer) -> None:
    for pinned in (HOST_PUBLIC_KEY, FINGERPRINT):
        result = await check(ssh, sshd_server.port, hostkey=pinned)
        assert outcome(result) == ("down", "error", "SSH host key verification failed"), pinned


# --- configuration errors (no rechecks) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "env", "message"),
    [
        ({"password": "pw"}, None, "Missing username"),
        (
            {"username": "u", "sshkey": "NOKEY"},
            None,
            "SSH key NOKEY not found: no key store (VEDETTE_SSH_KEYS_DIR is not set)",
        ),
        ({"username": "u", "sshkey": "NOKEY"}, "dir", "SSH key NOKEY not found"),
        ({"username": "u", "sshkey": "../etc/shadow"}, "dir", "Invalid SSH key id '../etc/shadow'"),
        ({"username": "u", "sshkey": "BADKY"}, "dir", "SSH key BADKY is not a valid private key"),
        (
            {
                "username": "u",
                "sshkey": "-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n-----END OPENSSH PRIVATE KEY-----",
            },
            None,
            "The SSH key in sshkey is not a valid private key",
        ),
        (
            {"username": "u", "sshkey": "ENCRY"},
            "dir",
            "SSH key ENCRY is encrypted: passphrase-protected keys are not supported",
        ),
    ],
)
async def test_configuration_errors(
    ssh: CheckType,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    params: dict[str, Any],
    env: str | None,
    message: str,
) -> None:
    monkeypatch.delenv("VEDETTE_SSH_KEYS_DIR", raising=False)
    if env:
        (tmp_path / "BADKY").write_text("not a key")
        key = asyncssh.generate_private_key("ssh-ed25519")
        (tmp_path / "ENCRY").write_bytes(key.export_private_key("pkcs8-pem", passphrase="pw"))
        monkeypatch.setenv("VEDETTE_SSH_KEYS_DIR", str(tmp_path))
    result = await check(ssh, 22, **params)
    assert (result.status, result.message, result.config_error) == ("down", message, True)


async def test_missing_target(ssh: CheckType) -> None:
    result = await check(ssh, 22, target="")
    assert (result.message, result.config_error) == ("Missing target", True)


# --- in-process asyncssh servers ------------------------------------------------------------------

GREETING = "Welcome to the Vedette test shell\r\n$ "


class _KbdintOnly(asyncssh.SSHServer):
    """Asks for the password through keyboard-interactive prompts only."""

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return True

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str) -> Any:
        return ("", "", "", [("Password: ", False)])

    def validate_kbdint_response(self, username: str, responses: Any) -> bool:
        return username == "kbd" and list(responses) == ["s3cret"]


class _NoAuth(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return False


class _NoSessions(_NoAuth):
    def session_requested(self) -> bool:
        return False


async def _greeting_shell(process: asyncssh.SSHServerProcess[str]) -> None:
    process.stdout.write(GREETING)
    await process.stdin.read()  # until the client closes the channel
    process.exit(0)


@pytest_asyncio.fixture
async def asyncssh_server() -> AsyncIterator[Callable[..., Awaitable[int]]]:
    acceptors: list[asyncssh.SSHAcceptor] = []

    async def start(server_class: type[asyncssh.SSHServer], shell: bool = True) -> int:
        # Without a process factory asyncssh asks the server object (session_requested) instead.
        acceptor = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[HOST_KEY],
            server_factory=server_class,
            process_factory=_greeting_shell if shell else None,
            server_version="VedetteTest_1.0",
        )
        acceptors.append(acceptor)
        return acceptor.get_port()

    yield start
    for acceptor in acceptors:
        acceptor.close()
        await acceptor.wait_closed()


async def test_keyboard_interactive_password(ssh: CheckType, asyncssh_server: Any) -> None:
    port = await asyncssh_server(_KbdintOnly)
    good = await check(ssh, port, username="kbd", password="s3cret")
    assert outcome(good) == ("up", "Logged in", "Logged in as kbd")
    bad = await check(ssh, port, username="kbd", password="wrong")
    assert outcome(bad) == ("down", "error", "Password authentication failed")


async def test_content_in_login_reply(ssh: CheckType, asyncssh_server: Any) -> None:
    port = await asyncssh_server(_KbdintOnly)
    result = await check(ssh, port, username="kbd", password="s3cret", contentstring="Vedette test shell")
    assert outcome(result) == ("up", "Found", "Found content string in login reply")
    inverted = await check(
        ssh, port, username="kbd", password="s3cret", contentstring="Vedette test shell", invert=True
    )
    assert outcome(inverted) == ("down", "Found", "Found content string in login reply")


async def test_custom_version_string(ssh: CheckType, asyncssh_server: Any) -> None:
    port = await asyncssh_server(_KbdintOnly)
    result = await check(ssh, port, contentstring="SSH-2.0-VedetteTest_1.0")
    assert outcome(result) == ("up", "Found", "Found content string in banner")


async def test_server_without_authentication(ssh: CheckType, asyncssh_server: Any) -> None:
    port = await asyncssh_server(_NoAuth)
    result = await check(ssh, port)
    assert outcome(result) == ("up", "Connected", "SSH connected (no authentication required)")
    content = await check(ssh, port, contentstring="$ ")
    assert outcome(content) == ("up", "Found", "Found content string in login reply")


async def test_shell_refused(ssh: CheckType, asyncssh_server: Any) -> None:
    port = await asyncssh_server(_NoSessions, shell=False)
    result = await check(ssh, port, contentstring="anything")
    assert outcome(result) == ("down", "error", "Could not open a shell: Session refused")


# --- connection failures --------------------------------------------------------------------------


async def test_connection_refused(ssh: CheckType, closed_port: int) -> None:
    result = await check(ssh, closed_port)
    assert outcome(result) == ("down", "error", "Connection refused")


async def test_silent_server_times_out(ssh: CheckType, tcp_servers: StartServer) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers

    port = await tcp_servers(silent)
    result = await check(ssh, port, seconds=0.5)
    assert outcome(result) == ("down", "Timeout", "Timeout")
    assert 450 <= result.duration_ms < 2000


@pytest.mark.parametrize("reply", [b"", b"SSH-2.0-Half\r\n", b"220 an FTP server\r\n"])
async def test_server_closes_the_connection(ssh: CheckType, tcp_servers: StartServer, reply: bytes) -> None:
    async def closer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(reply)
        await writer.drain()
        await reader.readline()
        writer.close()

    port = await tcp_servers(closer)
    result = await check(ssh, port)
    assert outcome(result) == ("down", "error", "SSH connection closed by server")


async def test_ipv6_only_with_an_ipv4_literal(ssh: CheckType, closed_port: int) -> None:
    result = await check(ssh, closed_port, ipv6=True)
    assert outcome(result) == ("down", "error", "No addresses found for 127.0.0.1")


async def test_probe_users_default_keys_are_not_used(
    ssh: CheckType, sshd_server: SshServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # An authorised key in ~/.ssh of the probe's user must not turn a credential-less check into a login.
    dot_ssh = tmp_path / ".ssh"
    dot_ssh.mkdir(mode=0o700)
    (dot_ssh / "id_ed25519").write_text(sshd_server.client_key)
    (dot_ssh / "id_ed25519").chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    result = await check(ssh, sshd_server.port, username=sshd_server.user)
    assert outcome(result) == ("up", "Connected", "SSH connected but login failed")
