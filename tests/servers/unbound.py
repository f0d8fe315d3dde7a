"""A real unbound (Debian package ``unbound``) as a DNSSEC-validating resolver for the DNS tests.

Fixture ``unbound_resolver`` (session): unbound on 127.0.0.1:<port> (UDP and TCP) with the validator on and
two local zones it resolves through ``auth-zone`` copies (``for-downstream: no``, ``for-upstream: yes``, so
their answers are validated like any recursion result, see test-servers.md §13a):

- ``secure.test.``: signed at fixture start with a fresh ECDSA P-256 key (dnspython ``sign_zone``); the key
  is unbound's trust anchor, so answers carry the AD flag;
- ``example.test.``: unsigned and under no trust anchor, so answers are insecure (no AD flag).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dns.dnssec
import dns.name
import dns.rdtypes.ANY.DNSKEY
import dns.zone
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from .common import ServerAddress, daemon_dir, dns_answers, free_port_tcp_udp, require_binary, run_daemon

UNBOUND = "/usr/sbin/unbound"

SECURE_ZONE = """\
$TTL 60
@    IN SOA ns1.secure.test. hostmaster.secure.test. 1 3600 600 86400 60
     IN NS  ns1.secure.test.
ns1  IN A   127.0.0.1
www  IN A   192.0.2.80
"""

PLAIN_ZONE = """\
$TTL 60
@    IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60
     IN NS  ns1.example.test.
ns1  IN A   127.0.0.1
www  IN A   192.0.2.10
mail IN A   192.0.2.25
@    IN MX  10 mail.example.test.
txt  IN TXT "hello from test zone"
"""


class UnboundResolver(ServerAddress):
    """unbound on 127.0.0.1:<port> (UDP and TCP)."""


def _signed_zone(path: str) -> str:
    """Write secure.test signed with a new key; return the trust-anchor line for the key."""
    origin = dns.name.from_text("secure.test.")
    zone = dns.zone.from_text(SECURE_ZONE, origin=origin, relativize=False)
    private_key = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(private_key.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=257)
    now = datetime.now(UTC)
    dns.dnssec.sign_zone(
        zone,
        keys=[(private_key, dnskey)],
        inception=now - timedelta(hours=1),
        expiration=now + timedelta(days=2),
    )
    zone.to_file(path, relativize=False)
    return f"secure.test. 60 IN DNSKEY {dnskey.to_text()}"


def _config(directory: str, port: int, anchor: str) -> str:
    return f"""\
server:
  interface: 127.0.0.1@{port}
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{directory}"
  pidfile: "{directory}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  num-threads: 1
  local-zone: "test." nodefault
  trust-anchor: "{anchor}"
auth-zone:
  name: "secure.test."
  zonefile: "{directory}/secure.test.zone"
  for-downstream: no
  for-upstream: yes
auth-zone:
  name: "example.test."
  zonefile: "{directory}/example.test.zone"
  for-downstream: no
  for-upstream: yes
remote-control:
  control-enable: no
"""


@pytest.fixture(scope="session")
def unbound_resolver() -> Iterator[UnboundResolver]:
    binary = require_binary(UNBOUND, "unbound")
    with daemon_dir("unbound-") as directory:
        anchor = _signed_zone(os.path.join(directory, "secure.test.zone"))
        with open(os.path.join(directory, "example.test.zone"), "w") as f:
            f.write(PLAIN_ZONE)

        def command(port: int) -> list[str]:
            config = os.path.join(directory, "unbound.conf")
            with open(config, "w") as f:
                f.write(_config(directory, port, anchor))
            return [binary, "-d", "-c", config]

        with run_daemon(
            "unbound",
            directory,
            free_port_tcp_udp,
            command,
            functools.partial(dns_answers, "www.secure.test."),
            cwd=directory,
        ) as port:
            yield UnboundResolver(port=port)
