"""A real net-snmp agent for the tests (Debian packages snmpd, snmp; test-servers.md §5).

Fixture ``snmp_agent`` (session): snmpd on udp 127.0.0.1:<free port> with community ``public`` (v1/v2c) and
SNMPv3 users at every security level, plus a few system OIDs with known values. Yields an
:class:`SnmpAgent`. Debian ships no MIBs, so the agent runs with ``-m ''`` and everything is numeric.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .common import free_port, launch, make_daemon_dir, require_binary, stop, wait_until

COMMUNITY = "public"
AUTH_PASSWORD = "authpass123"
PRIV_PASSWORD = "privpass123"

SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_CONTACT = "1.3.6.1.2.1.1.4.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_LOCATION = "1.3.6.1.2.1.1.6.0"
SYS_SERVICES = "1.3.6.1.2.1.1.7.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"

# USM users: name -> (net-snmp createUser arguments, security level for rouser).
USERS = {
    "privuser": (f"SHA {AUTH_PASSWORD} AES {PRIV_PASSWORD}", "authpriv"),
    "strong": (f"SHA-512 {AUTH_PASSWORD} AES-256 {PRIV_PASSWORD}", "authpriv"),
    "authuser": (f"MD5 {AUTH_PASSWORD}", "auth"),
    "plainuser": ("", "noauth"),
}


@dataclass
class SnmpAgent:
    port: int
    community: str = COMMUNITY
    host: str = "127.0.0.1"
    location: str = "test-lab"
    contact: str = "tester@example.org"
    name: str = "42"
    services: int = 72


@pytest.fixture(scope="session")
def snmp_agent() -> Iterator[SnmpAgent]:
    snmpd = require_binary("/usr/sbin/snmpd", "snmpd")
    snmpget = require_binary("snmpget", "snmp")
    directory = make_daemon_dir("snmpd-")
    agent = SnmpAgent(port=free_port(udp=True))
    lines = [
        f"agentaddress udp:127.0.0.1:{agent.port}",
        f"rocommunity {COMMUNITY} 127.0.0.1",
        f"sysLocation {agent.location}",
        f"sysContact {agent.contact}",
        f"sysName {agent.name}",
        f"sysServices {agent.services}",
    ]
    for user, (keys, level) in USERS.items():
        lines += [f"createUser {user} {keys}".rstrip(), f"rouser {user} {level}"]
    config = os.path.join(directory, "snmpd.conf")
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    # Server and clients keep engine state here rather than in /var/lib/snmp.
    server_env = dict(os.environ, SNMP_PERSISTENT_DIR=os.path.join(directory, "persist"), MIBS="")
    client_env = dict(os.environ, SNMP_PERSISTENT_DIR=os.path.join(directory, "client"), MIBS="")
    try:
        proc = launch(
            [snmpd, "-f", "-Lo", "-C", "-m", "", "-c", config, "-p", os.path.join(directory, "snmpd.pid")],
            os.path.join(directory, "snmpd.log"),
            env=server_env,
            cwd=directory,
        )
        try:

            def answers() -> bool:
                probe = [snmpget, "-v2c", "-c", COMMUNITY, "-t", "0.2", "-r", "0", "-m", ""]
                target = f"udp:127.0.0.1:{agent.port}"
                done = subprocess.run([*probe, target, SYS_LOCATION], env=client_env, capture_output=True)
                return done.returncode == 0

            wait_until(answers, proc, timeout=20)
            yield agent
        finally:
            stop(proc)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
