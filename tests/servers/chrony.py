"""A real chrony NTP server for the tests (Debian package chrony; test-servers.md §9).

Fixture:

- ``chrony_port`` (session): chronyd answering NTP on 127.0.0.1:<free UDP port> as a stratum-8 local
  reference. ``-x`` keeps it from ever touching the host clock; no command port, no Unix socket.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest

from .common import die_with_parent, free_port, make_daemon_dir, require_binary, stop, wait_until

CHRONYD = "/usr/sbin/chronyd"


def ntp_answers(port: int, host: str = "127.0.0.1") -> bool:
    """True when an SNTP client request to host:port gets a 48-byte reply within 0.2 s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(b"\x23" + b"\0" * 47, (host, port))
        try:
            return len(sock.recv(512)) >= 48
        except TimeoutError:
            return False


@pytest.fixture(scope="session")
def chrony_port() -> Iterator[int]:
    binary = require_binary(CHRONYD, "chrony")
    daemon_dir = make_daemon_dir("chrony-")
    try:
        last_log = ""
        for _attempt in range(5):
            port = free_port(udp=True)
            conf = os.path.join(daemon_dir, "chrony.conf")
            with open(conf, "w") as f:
                f.write(
                    f"port {port}\n"
                    "bindaddress 127.0.0.1\n"
                    "cmdport 0\n"
                    "bindcmdaddress /\n"
                    "allow 127.0.0.1\n"
                    "local stratum 8\n"
                    f"pidfile {daemon_dir}/chronyd.pid\n"
                    f"driftfile {daemon_dir}/drift\n"
                )
            log_path = os.path.join(daemon_dir, f"chronyd-{port}.log")
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [binary, "-d", "-x", "-u", "root", "-f", conf],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=die_with_parent(),
                )
            try:
                wait_until(functools.partial(ntp_answers, port), proc, timeout=15)
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
        raise RuntimeError(f"chronyd did not start; last log:\n{last_log}")
    finally:
        shutil.rmtree(daemon_dir, ignore_errors=True)
