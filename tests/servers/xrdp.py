"""A real xrdp RDP front end for the tests (Debian package xrdp; test-servers.md §11).

Fixture:

- ``xrdp_port`` (session): xrdp on 127.0.0.1:<free port> (``port=tcp://.:P``), ``security_layer=negotiate``
  with a throwaway self-signed RSA certificate, so an X.224 Connection Request asking for TLS gets a
  Connection Confirm selecting TLS. No session manager: only the X.224 exchange is served.
  xrdp itself creates /run/xrdp/sockdir (a compiled-in path).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator

import pytest

from .common import (
    die_with_parent,
    free_port,
    make_daemon_dir,
    require_binary,
    stop,
    tcp_open,
    wait_until,
)

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
    daemon_dir = make_daemon_dir("xrdp-")
    try:
        subprocess.run(
            [
                openssl,
                *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
                *("-keyout", f"{daemon_dir}/key.pem", "-out", f"{daemon_dir}/cert.pem"),
            ],
            check=True,
            capture_output=True,
        )
        last_log = ""
        for _attempt in range(5):
            port = free_port()
            conf = os.path.join(daemon_dir, "xrdp.ini")
            with open(conf, "w") as f:
                f.write(CONFIG.format(port=port, dir=daemon_dir))
            log_path = os.path.join(daemon_dir, f"stdout-{port}.log")
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [binary, "--nodaemon", "--config", conf],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=daemon_dir,
                    preexec_fn=die_with_parent(signal.SIGTERM),
                )
            try:
                wait_until(functools.partial(tcp_open, port), proc, timeout=20)
            except RuntimeError:  # exited early, perhaps the port was taken meanwhile
                with open(log_path, errors="replace") as f:
                    last_log = f.read()
                continue
            except BaseException:
                stop(proc)
                raise
            try:
                yield port
            finally:
                stop(proc)
            return
        raise RuntimeError(f"xrdp did not start; last log:\n{last_log}")
    finally:
        shutil.rmtree(daemon_dir, ignore_errors=True)
