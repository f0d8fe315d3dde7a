"""A real rbldnsd (Debian package ``rbldnsd``) serving test blocklists (test-servers.md §12).

Fixture ``rbldnsd_server`` (session): rbldnsd on 127.0.0.1:<port> (UDP only) serving

- ``bl.test``: 127.0.0.2 and 192.0.2.0/24 (answer 127.0.0.2), 203.0.113.7 (answer 127.0.0.4), and the
  IPv6 range 2001:db8:1::/48 (answer 127.0.0.3);
- ``bl2.test``: 127.0.0.2 and 127.0.0.1 (answer 127.0.0.10);
- ``clean.test``: 192.0.2.99 only.

Unlisted addresses get NXDOMAIN; zones it does not serve get REFUSED.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .common import die_with_parent, free_port, make_daemon_dir, require_binary, stop, wait_until

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


@dataclass
class RbldnsdServer:
    port: int
    host: str = "127.0.0.1"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _answers(port: int) -> bool:
    import dns.exception
    import dns.message
    import dns.query

    query = dns.message.make_query("2.0.0.127.bl.test.", "A")
    try:
        response = dns.query.udp(query, "127.0.0.1", timeout=0.5, port=port)
    except dns.exception.Timeout:
        return False
    return bool(response.answer)


@pytest.fixture(scope="session")
def rbldnsd_server() -> Iterator[RbldnsdServer]:
    binary = require_binary(RBLDNSD, "rbldnsd")
    directory = make_daemon_dir("rbldnsd-")
    try:
        for name, text in ZONES.items():
            path = os.path.join(directory, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o644)  # rbldnsd drops to the rbldns user
        user = ["-u", "rbldns"] if os.geteuid() == 0 else []
        last_log = ""
        for _attempt in range(5):
            port = free_port(udp=True)
            log_path = os.path.join(directory, f"rbldnsd-{port}.log")
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [binary, "-n", "-b", f"127.0.0.1/{port}", "-w", directory, *user, "-t", "60", *DATASETS],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=die_with_parent(),
                )
            try:
                wait_until(lambda port=port: _answers(port), proc, timeout=30)
            except RuntimeError:  # exited early: maybe the port was taken meanwhile
                with open(log_path, errors="replace") as f:
                    last_log = f.read()
                continue
            except BaseException:
                stop(proc)
                raise
            try:
                yield RbldnsdServer(port=port)
            finally:
                stop(proc)
            return
        raise RuntimeError(f"rbldnsd did not start; last log:\n{last_log}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
