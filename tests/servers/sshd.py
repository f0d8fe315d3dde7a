"""A real OpenSSH server for the tests (Debian package openssh-server), per test-servers.md §4.

Fixtures:

- ``sshd_server`` (session): one ``sshd -D`` per test session (per xdist worker) on 127.0.0.1:<free port>,
  with an ed25519 host key, password authentication for the system account ``sshtest`` (password
  ``testpw``, created by scripts/test), public-key authentication with a generated client key, and a
  pre-authentication banner. Yields an :class:`SshServer`.

Keys are generated with asyncssh (no ssh-keygen needed). sshd needs ``/run/sshd`` (scripts/test creates it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import asyncssh
import pytest

from .common import daemon_dir, free_port, require_binary, run_daemon, tcp_open

SSHD = "/usr/sbin/sshd"
SSHD_PACKAGE = "openssh-server"
SSH_USER = "sshtest"
SSH_PASSWORD = "testpw"
SSH_BANNER = "Vedette test SSH server: authorised use only"


@dataclass
class SshServer:
    port: int
    user: str
    password: str
    client_key: str
    """OpenSSH private key (PEM text) whose public half is authorised for ``user``."""
    client_key_path: str
    host_key_fingerprint: str
    """``SHA256:...`` fingerprint of the server's host key."""
    host_public_key: str
    """The host key as an OpenSSH public key line (``ssh-ed25519 AAAA...``)."""
    banner: str
    host: str = "127.0.0.1"


def _write_key(path: str, key: asyncssh.SSHKey) -> None:
    key.write_private_key(path)
    os.chmod(path, 0o600)


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SshServer]:
    sshd = require_binary(SSHD, SSHD_PACKAGE)
    if os.geteuid() != 0:
        pytest.skip("sshd password authentication for a system account needs root")
    if not os.path.isdir("/run/sshd"):
        pytest.fail("sshd needs /run/sshd (mkdir -p -m 0755 /run/sshd; scripts/test creates it)")
    with daemon_dir("sshd-") as d:
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        host_key_path = os.path.join(d, "host_ed25519_key")
        client_key_path = os.path.join(d, "client_key")
        _write_key(host_key_path, host_key)
        _write_key(client_key_path, client_key)
        keys_dir = os.path.join(d, "keys")
        os.mkdir(keys_dir, 0o755)
        with open(os.path.join(keys_dir, SSH_USER), "wb") as f:
            f.write(client_key.export_public_key())
        os.chmod(os.path.join(keys_dir, SSH_USER), 0o644)
        banner_path = os.path.join(d, "banner")
        with open(banner_path, "w") as f:
            f.write(SSH_BANNER + "\n")
        os.chmod(banner_path, 0o644)

        def command(port: int) -> list[str]:
            config_path = os.path.join(d, "sshd_config")
            with open(config_path, "w") as f:
                f.write(
                    f"ListenAddress 127.0.0.1:{port}\n"
                    f"HostKey {host_key_path}\n"
                    f"PidFile {d}/sshd.pid\n"
                    f"AuthorizedKeysFile {keys_dir}/%u\n"
                    f"Banner {banner_path}\n"
                    "StrictModes no\n"
                    "UsePAM no\n"
                    "PasswordAuthentication yes\n"
                    "KbdInteractiveAuthentication no\n"
                    "PermitRootLogin no\n"
                    "PrintMotd no\n"
                    "PrintLastLog no\n"
                    "UseDNS no\n"
                    # The benchmark opens many connections at once: do not drop unauthenticated ones.
                    "MaxStartups 200\n"
                    "MaxSessions 50\n"
                    "LogLevel ERROR\n"
                )
            return [sshd, "-D", "-e", "-f", config_path]

        with run_daemon("sshd", d, free_port, command, tcp_open) as port:
            yield SshServer(
                port=port,
                user=SSH_USER,
                password=SSH_PASSWORD,
                client_key=client_key.export_private_key().decode(),
                client_key_path=client_key_path,
                host_key_fingerprint=host_key.get_fingerprint("sha256"),
                host_public_key=host_key.export_public_key().decode().strip(),
                banner=SSH_BANNER,
            )
