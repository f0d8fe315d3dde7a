"""A real xrdp RDP front end for the tests (Debian package xrdp; test-servers.md §11).

Fixture:

- ``xrdp_port`` (session): xrdp on 127.0.0.1:<free port> (``port=tcp://.:P``), ``security_layer=negotiate``
  with a throwaway self-signed RSA certificate, so an X.224 Connection Request asking for TLS gets a
  Connection Confirm selecting TLS. No session manager: only the X.224 exchange is served.
  xrdp itself creates /run/xrdp/sockdir (a compiled-in path).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator

import pytest

from .common import daemon_dir, free_port, require_binary, run_daemon, tcp_open

XRDP = "/usr/sbin/xrdp"

CONFIG = """[Globals]
ini_version=1
fork=true
port=tcp://.:{port}
security_layer=negotiate
crypt_level=high
certificate={dir}/cert.pem
key_file={dir}/key.pem
ssl_protocols=TLSv1.2, TLSv1.3

[Logging]
LogFile={dir}/xrdp.log
LogLevel=INFO
EnableSyslog=false

[Xorg]
name=Xorg
lib=libxup.so
username=ask
password=ask
ip=127.0.0.1
port=-1
code=20
"""


@pytest.fixture(scope="session")
def xrdp_port() -> Iterator[int]:
    binary = require_binary(XRDP, "xrdp")
    openssl = require_binary("openssl", "openssl")
    with daemon_dir("xrdp-") as d:
        subprocess.run(
            [
                openssl,
                *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
                *("-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem"),
            ],
            check=True,
            capture_output=True,
        )

        def command(port: int) -> list[str]:
            conf = os.path.join(d, "xrdp.ini")
            with open(conf, "w") as f:
                f.write(CONFIG.format(port=port, dir=d))
            return [binary, "--nodaemon", "--config", conf]

        with run_daemon(
            "xrdp", d, free_port, command, tcp_open, timeout=20, cwd=d, death_signal=signal.SIGTERM
        ) as port:
            yield port
