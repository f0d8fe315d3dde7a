"""A real kamailio SIP server for the tests (Debian package kamailio; test-servers.md §10).

Fixture:

- ``kamailio_port`` (session): kamailio on 127.0.0.1:<port> over UDP and TCP (the same port number),
  answering ``OPTIONS`` with ``200 OK`` and every other request with ``404 Not Found``. Replies are
  stateless and go to the address in the top Via (plus ``rport``).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest

from .common import daemon_dir, free_port_tcp_udp, require_binary, run_daemon

KAMAILIO = "/usr/sbin/kamailio"

CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
tcp_children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
loadmodule "sl.so"
request_route {{
    if (method == "OPTIONS") {{
        sl_send_reply("200", "OK");
        exit;
    }}
    sl_send_reply("404", "Not Found");
}}
"""


def options_answered(port: int) -> bool:
    """True when an OPTIONS over UDP gets a SIP reply within 0.2 s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        local = sock.getsockname()[1]
        message = (
            f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};rport;branch=z9hG4bK-{time.time_ns()}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=ready\r\nTo: <sip:ping@127.0.0.1>\r\n"
            f"Call-ID: {time.time_ns()}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(message.encode(), ("127.0.0.1", port))
        try:
            return sock.recv(4096).startswith(b"SIP/2.0 ")
        except TimeoutError:
            return False


@pytest.fixture(scope="session")
def kamailio_port() -> Iterator[int]:
    binary = require_binary(KAMAILIO, "kamailio")
    with daemon_dir("kamailio-") as d:

        def command(port: int) -> list[str]:
            conf = os.path.join(d, "kamailio.cfg")
            with open(conf, "w") as f:
                f.write(CONFIG.format(port=port))
            return [
                binary,
                *("-f", conf, "-DD", "-E", "-Y", d, "-P", f"{d}/kamailio.pid"),
                *("-w", d, "-m", "32", "-M", "8"),
            ]

        with run_daemon(
            "kamailio",
            d,
            free_port_tcp_udp,
            command,
            options_answered,
            timeout=20,
            cwd=d,
            death_signal=signal.SIGTERM,
        ) as port:
            yield port
