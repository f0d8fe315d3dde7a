"""A real rbldnsd (Debian package ``rbldnsd``) serving test blocklists (test-servers.md §12).

Fixture ``rbldnsd_server`` (session): rbldnsd on 127.0.0.1:<port> (UDP only) serving

- ``bl.test``: 127.0.0.2 and 192.0.2.0/24 (answer 127.0.0.2), 203.0.113.7 (answer 127.0.0.4), and the
  IPv6 range 2001:db8:1::/48 (answer 127.0.0.3);
- ``bl2.test``: 127.0.0.2 and 127.0.0.1 (answer 127.0.0.10);
- ``clean.test``: 192.0.2.99 only.

Unlisted addresses get NXDOMAIN; zones it does not serve get REFUSED.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator

import pytest

from .common import ServerAddress, daemon_dir, dns_answers, free_port, require_binary, run_daemon

RBLDNSD = "/usr/sbin/rbldnsd"

ZONES = {
    "bl.zone": """\
:127.0.0.2:Listed in test blocklist, see http://bl.test/?ip=$
127.0.0.2
192.0.2.0/24
203.0.113.7 :127.0.0.4:Spam source $
""",
    "bl6.zone": """\
:127.0.0.3:Listed IPv6 range
2001:db8:1::/48
""",
    "bl2.zone": """\
:127.0.0.10:Second list
127.0.0.1
127.0.0.2
""",
    "clean.zone": """\
:127.0.0.2:Clean list
192.0.2.99
""",
    "soa.zone": """\
$SOA 60 ns.bl.test hostmaster.bl.test 1 600 300 86400 60
$NS 60 ns.bl.test
""",
}

DATASETS = [
    "bl.test:ip4set:bl.zone",
    "bl.test:ip6trie:bl6.zone",
    "bl.test:generic:soa.zone",
    "bl2.test:ip4set:bl2.zone",
    "clean.test:ip4set:clean.zone",
]


class RbldnsdServer(ServerAddress):
    """rbldnsd on 127.0.0.1:<port> (UDP)."""


@pytest.fixture(scope="session")
def rbldnsd_server() -> Iterator[RbldnsdServer]:
    binary = require_binary(RBLDNSD, "rbldnsd")
    with daemon_dir("rbldnsd-") as directory:
        for name, text in ZONES.items():
            path = os.path.join(directory, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o644)  # rbldnsd drops to the rbldns user
        user = ["-u", "rbldns"] if os.geteuid() == 0 else []

        def command(port: int) -> list[str]:
            return [binary, "-n", "-b", f"127.0.0.1/{port}", "-w", directory, *user, "-t", "60", *DATASETS]

        with run_daemon(
            "rbldnsd",
            directory,
            lambda: free_port(udp=True),
            command,
            functools.partial(dns_answers, "2.0.0.127.bl.test."),
        ) as port:
            yield RbldnsdServer(port=port)
