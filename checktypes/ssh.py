"""SSH: handshake and optional login (password or stored key); optional content match.

On the wire (check-types.md §4 SSH): the SSH handshake with asyncssh, then

- without credentials (no ``password`` and no ``sshkey``): only the ``none`` authentication method
  ("just checking"), as ``username`` or ``vedette``. A refused login passes with ``sc = "Connected"``,
  ``m = "SSH connected but login failed"``;
- with ``password``: password and keyboard-interactive authentication; with ``sshkey``: public-key
  authentication (both when both are set). Logged in → ``sc = "Logged in"``; refused →
  ``Password authentication failed`` or ``SSH private key authentication failed``.

``contentstring`` (decision for the "Check types, services" issue): it is first looked for in the banner,
which is the server's version string (``SSH-2.0-OpenSSH_9.2p1 ...``) followed by the pre-authentication
banner when the server sends one. When it is not there and the login succeeded, a shell is opened on a
pseudo-terminal and the first output that arrives (the "login reply") is searched as the spec describes.
Found → ``sc = "Found"``; not found → fail ``sc = "Not found"``. ``invert`` swaps only this content
outcome: connection and login failures stay failures.

``sshkey`` is the id of a stored private key. There is no key store yet, so the value is either an OpenSSH
(or PEM) private key given directly (it contains ``-----BEGIN``), or an id looked up as the file
``$VEDETTE_SSH_KEYS_DIR/<id>``. Passphrase-protected keys are not supported. Because the field may hold
a key, it is a secret field.

``hostkey`` (a Vedette addition): the server's expected host key, as an OpenSSH public key line
(``ssh-ed25519 AAAA...``) or a ``SHA256:...`` fingerprint. Unset (the default), the host key is not
verified, as NodePing does; set, a different key fails the run before any credential is sent.

No local SSH configuration, known_hosts file, agent or default key is ever used: a check behaves the same
on every probe.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from typing import Any

import asyncssh
from pydantic import field_validator

from checktypes._net import os_reason, resolution_message
from prober.base import BoolIsh, CheckContext, CheckParams, CheckResult, ConfigError, Port, StrIsh

NAME = "SSH"

KEYS_DIR_ENV = "VEDETTE_SSH_KEYS_DIR"
"""Directory of stored private keys, one file per key id (until Vedette has a key store)."""

PROBE_USERNAME = "vedette"
"""The user name offered in the ``none``-only login of a check without credentials."""

SHELL_READ_BYTES = 65536

_FORBIDDEN_IN_TARGET = frozenset(' $;"')
_KEY_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
_FINGERPRINT = re.compile(r"(?:SHA256:[A-Za-z0-9+/]{43}=?|MD5(?::[0-9a-fA-F]{2}){16})")


class Params(CheckParams):
    SECRET_FIELDS = frozenset({"password", "sshkey"})

    port: Port = 22
    username: StrIsh | None = None
    password: StrIsh | None = None
    sshkey: StrIsh | None = None
    """Id of a stored SSH private key (or, until there is a key store, the private key itself)."""
    contentstring: StrIsh | None = None
    """A string expected in the banner or, after a login, in the shell's first output."""
    hostkey: StrIsh | None = None
    """Expected server host key (public key line or SHA256 fingerprint); unset = not verified."""
    invert: BoolIsh = False
    ipv6: BoolIsh = False

    @classmethod
    def check_target(cls, target: str) -> str:
        if _FORBIDDEN_IN_TARGET.intersection(target):
            raise ValueError('Target must not contain spaces, $, ; or "')
        return target

    @field_validator("hostkey")
    @classmethod
    def _host_key_form(cls, value: str | None) -> str | None:
        if not value:
            return None
        value = value.strip()
        if _FINGERPRINT.fullmatch(value):
            return value
        try:
            asyncssh.import_public_key(value)
        except (asyncssh.KeyImportError, ValueError):
            raise ValueError("must be an OpenSSH public key line or a SHA256: fingerprint") from None
        return value


class _ProbeClient(asyncssh.SSHClient):
    """Keeps what the server showed before authentication and checks a pinned host key fingerprint."""

    def __init__(self, fingerprint: str | None) -> None:
        self.fingerprint = fingerprint
        self.connection: asyncssh.SSHClientConnection | None = None
        self.auth_banner = ""

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.connection = conn

    def auth_banner_received(self, msg: str, lang: str) -> None:
        self.auth_banner += msg

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        # Only called for keys that are not the pinned public key (see _host_key_options).
        if self.fingerprint is None:
            return False
        algorithm = self.fingerprint.split(":", 1)[0].lower()
        return bool(key.get_fingerprint(algorithm) == self.fingerprint)

    def banner(self) -> str:
        version = self.connection.get_extra_info("server_version", "") if self.connection else ""
        return "\n".join(part for part in (version, self.auth_banner) if part)


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not ctx.target:
        raise ConfigError("Missing target")
    with_credentials = bool(params.password or params.sshkey)
    if with_credentials and not params.username:
        raise ConfigError("Missing username")
    # None, not []: asyncssh loads the default ~/.ssh/id_* keys for an empty list.
    client_keys = [await _load_key(params.sshkey)] if params.sshkey else None
    client = _ProbeClient(_fingerprint(params.hostkey))
    options: dict[str, Any] = {
        "username": params.username or PROBE_USERNAME,
        "password": params.password or None,
        "client_keys": client_keys,
        "client_factory": lambda: client,
        # Nothing from the probe host's ~/.ssh, agent, GSS or host-based setup takes part.
        "config": None,
        "agent_path": None,
        "gss_host": None,
        "client_host_keys": None,
        **_host_key_options(params.hostkey),
    }
    try:
        conn = await _connect(ctx.target, params.port, params.ipv6, options)
    except asyncssh.PermissionDenied:
        if not with_credentials:
            return _content_result(params, client.banner(), None) or CheckResult.up(
                "Connected", "SSH connected but login failed"
            )
        if params.sshkey:
            return CheckResult.down("error", "SSH private key authentication failed")
        return CheckResult.down("error", "Password authentication failed")
    except asyncssh.HostKeyNotVerifiable:
        return CheckResult.down("error", "SSH host key verification failed")
    except (asyncssh.ConnectionLost, ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return CheckResult.down("error", "SSH connection closed by server")
    except asyncssh.DisconnectError as exc:
        return CheckResult.down("error", f"SSH error: {exc.reason}")
    except socket.gaierror as exc:
        return CheckResult.down("error", resolution_message(ctx.target, exc))
    except OSError as exc:
        return CheckResult.down("error", os_reason(exc))

    async with conn:
        banner = client.banner()
        if params.contentstring and params.contentstring not in banner:
            try:
                login_reply = await _first_shell_output(conn)
            except asyncssh.ChannelOpenError as exc:
                return CheckResult.down("error", f"Could not open a shell: {exc.reason}")
            except (asyncssh.DisconnectError, ConnectionError):
                return CheckResult.down("error", "SSH connection closed by server")
            content = _content_result(params, banner, login_reply)
        else:
            content = _content_result(params, banner, None)
    if content is not None:
        return content
    if with_credentials:
        return CheckResult.up("Logged in", f"Logged in as {params.username}")
    return CheckResult.up("Connected", "SSH connected (no authentication required)")


async def _connect(host: str, port: int, ipv6: bool, options: dict[str, Any]) -> asyncssh.SSHClientConnection:
    """A records first, AAAA when there are none; only AAAA with ``ipv6`` (check-types.md §2.1)."""
    if not ipv6:
        try:
            return await asyncssh.connect(host, port, family=socket.AF_INET, **options)
        except socket.gaierror:
            pass  # no A record (or an IPv6 literal): fall back to AAAA
    return await asyncssh.connect(host, port, family=socket.AF_INET6, **options)


def _content_result(params: Params, banner: str, login_reply: str | None) -> CheckResult | None:
    """The ``contentstring`` outcome (inverted with ``invert``), or None when there is no contentstring."""
    expected = params.contentstring
    if not expected:
        return None
    if expected in banner:
        result = CheckResult.up("Found", "Found content string in banner")
    elif login_reply is None:
        result = CheckResult.down("Not found", "Content string not found in banner")
    elif expected in login_reply:
        result = CheckResult.up("Found", "Found content string in login reply")
    else:
        result = CheckResult.down("Not found", "Content string not found in login reply")
    return result.inverted(params.invert)


async def _first_shell_output(conn: asyncssh.SSHClientConnection) -> str:
    """Open a shell on a pseudo-terminal (so that it greets and prompts) and return its first output."""
    process = await conn.create_process(term_type="dumb", encoding="utf-8", errors="replace")
    try:
        output: str = await process.stdout.read(SHELL_READ_BYTES)
    finally:
        process.close()
    return output


def _fingerprint(hostkey: str | None) -> str | None:
    return hostkey if hostkey and _FINGERPRINT.fullmatch(hostkey) else None


def _host_key_options(hostkey: str | None) -> dict[str, Any]:
    if not hostkey:
        return {"known_hosts": None}
    if _FINGERPRINT.fullmatch(hostkey):
        # Nothing trusted up front: every key goes through _ProbeClient.validate_host_public_key.
        return {"known_hosts": ([], [], [])}
    # A pinned public key also makes asyncssh negotiate that key's algorithm.
    return {"known_hosts": ([asyncssh.import_public_key(hostkey)], [], [])}


async def _load_key(sshkey: str) -> asyncssh.SSHKey:
    if "-----BEGIN" in sshkey:
        data = sshkey
        what = "The SSH key in sshkey"
    else:
        data = await _read_stored_key(sshkey)
        what = f"SSH key {sshkey}"
    try:
        return asyncssh.import_private_key(data)
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, ValueError) as exc:
        # The library's messages never quote the key; still, only a fixed text goes into the result.
        if "passphrase" in str(exc).lower():
            raise ConfigError(f"{what} is encrypted: passphrase-protected keys are not supported") from None
        raise ConfigError(f"{what} is not a valid private key") from None


async def _read_stored_key(key_id: str) -> str:
    if not _KEY_ID.fullmatch(key_id):
        raise ConfigError(f"Invalid SSH key id {key_id!r}")
    keys_dir = os.environ.get(KEYS_DIR_ENV)
    if not keys_dir:
        raise ConfigError(f"SSH key {key_id} not found: no key store ({KEYS_DIR_ENV} is not set)")
    path = os.path.join(keys_dir, key_id)
    try:
        # A small local file, but still read off the event loop.
        return await asyncio.to_thread(_read_text, path)
    except FileNotFoundError:
        raise ConfigError(f"SSH key {key_id} not found") from None
    except OSError as exc:
        raise ConfigError(f"SSH key {key_id} cannot be read: {os_reason(exc)}") from None


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()
