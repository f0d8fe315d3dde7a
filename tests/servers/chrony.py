"""A real chrony NTP server for the tests (Debian package chrony; test-servers.md §9).

Fixture:

- ``chrony_port`` (session): chronyd answering NTP on 127.0.0.1:<free UDP port> as a stratum-8 local
  reference. ``-x`` keeps it from ever touching the host clock; no command port, no Unix socket.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from .common import daemon_dir, free_port, require_binary, run_daemon

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
    with daemon_dir("chrony-") as d:

        def command(port: int) -> list[str]:
            conf = os.path.join(d, "chrony.conf")
            with open(conf, "w") as f:
                f.write(
                    f"port {port}\n"
                    "bindaddress 127.0.0.1\n"
                    "cmdport 0\n"
                    "bindcmdaddress /\n"
                    "allow 127.0.0.1\n"
                    "local stratum 8\n"
                    f"pidfile {d}/chronyd.pid\n"
                    f"driftfile {d}/drift\n"
                )
            return [binary, "-d", "-x", "-u", "root", "-f", conf]

        with run_daemon("chronyd", d, lambda: free_port(udp=True), command, ntp_answers, timeout=15) as port:
            yield port
