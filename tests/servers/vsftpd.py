"""A real vsftpd for the tests (Debian package vsftpd), per test-servers.md §7.

Fixtures:

- ``vsftpd_server`` (session): one vsftpd per test session (per xdist worker) on 127.0.0.1:<free port>:
  plain FTP and explicit FTPS (``AUTH TLS``, optional for clients), local logins through PAM for the system
  account ``ftptest`` (password ``testpw``, created by scripts/test), anonymous logins refused, and a fixed
  greeting banner. Its certificate (for ``localhost`` and ``127.0.0.1``) is issued by a throwaway trustme
  CA whose PEM file is ``ca_file``. Yields a :class:`FtpServer`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import trustme

from .common import daemon_dir, free_port, require_binary, run_daemon, tcp_open

VSFTPD = "/usr/sbin/vsftpd"
VSFTPD_PACKAGE = "vsftpd"
FTP_USER = "ftptest"
FTP_PASSWORD = "testpw"
FTP_BANNER = "Vedette test FTP ready (vsftpd)"


@dataclass
class FtpServer:
    port: int
    user: str
    password: str
    banner: str
    ca_file: str
    """PEM of the CA that issued the server certificate (for ``SSL_CERT_FILE``)."""
    host: str = "127.0.0.1"


@pytest.fixture(scope="session")
def vsftpd_server() -> Iterator[FtpServer]:
    vsftpd = require_binary(VSFTPD, VSFTPD_PACKAGE)
    if os.geteuid() != 0:
        pytest.skip("vsftpd with PAM logins for a system account needs root")
    with daemon_dir("vsftpd-") as d:
        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        cert_file = os.path.join(d, "cert.pem")
        key_file = os.path.join(d, "key.pem")
        ca_file = os.path.join(d, "ca.pem")
        cert.cert_chain_pems[0].write_to_path(cert_file)
        cert.private_key_pem.write_to_path(key_file)
        ca.cert_pem.write_to_path(ca_file)
        os.chmod(key_file, 0o600)
        os.chmod(ca_file, 0o644)
        empty = os.path.join(d, "empty")
        os.mkdir(empty, 0o755)
        root = os.path.join(d, "root")
        os.mkdir(root, 0o755)
        shutil.chown(root, FTP_USER)

        def command(port: int) -> list[str]:
            config_path = os.path.join(d, "vsftpd.conf")
            with open(config_path, "w") as f:
                f.write(
                    "listen=YES\n"
                    "listen_ipv6=NO\n"
                    "listen_address=127.0.0.1\n"
                    f"listen_port={port}\n"
                    "background=NO\n"
                    "anonymous_enable=NO\n"
                    "local_enable=YES\n"
                    f"local_root={root}\n"
                    "pam_service_name=vsftpd\n"
                    f"secure_chroot_dir={empty}\n"
                    f"ftpd_banner={FTP_BANNER}\n"
                    "pasv_enable=NO\n"
                    "xferlog_enable=NO\n"
                    "delay_failed_login=0\n"
                    f"vsftpd_log_file={d}/vsftpd.log\n"
                    "ssl_enable=YES\n"
                    f"rsa_cert_file={cert_file}\n"
                    f"rsa_private_key_file={key_file}\n"
                    "require_ssl_reuse=NO\n"
                    "force_local_logins_ssl=NO\n"
                    "force_local_data_ssl=NO\n"
                    # Benchmarks and parallel tests open many sessions from 127.0.0.1.
                    "max_clients=0\n"
                    "max_per_ip=0\n"
                )
            return [vsftpd, config_path]

        with run_daemon("vsftpd", d, free_port, command, tcp_open, logs=[f"{d}/vsftpd.log"]) as port:
            yield FtpServer(
                port=port, user=FTP_USER, password=FTP_PASSWORD, banner=FTP_BANNER, ca_file=ca_file
            )
