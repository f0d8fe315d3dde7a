"""Network namespaces for the ICMP check tests (PING, MTR). Needs root and iproute2.

Only 127.0.0.0/8, ::1 and addresses from 198.18.0.0/15 (RFC 2544 benchmarking) are used, and only inside
namespaces created here plus one veth end in the test's own namespace. Without the privilege to create
namespaces the tests are skipped locally and FAIL under CI=true (like a missing daemon).

Fixtures:

- ``icmp_lab`` (session): a routed network of four namespaces behind a veth pair, on a /24 of
  198.18.0.0/15 that no interface or route of the host uses::

      test process (B.1) ── (B.2) router ─┬─ (B.6)  target         answers pings
                                          ├─ (B.10) lossy_target   answers ONE echo request, then rate-limits
                                          └─ (B.14) silent_target  ignores echo requests
      (B.18, ``unrouted``: the router has no route and answers Destination Unreachable)

  The router forwards and sends Time Exceeded without rate limit, so a trace to a target has two hops.
  The lossy target limits echo replies to one per minute per peer (``icmp_ratemask`` with the echo-reply
  bit): use it in ONE test only. Removed at the end of the session (deleting a namespace deletes its veths
  and the host's route with them).
- ``empty_netns`` (function): a fresh namespace with only ``lo`` up; yields its name, for running a
  subprocess inside (``ip netns exec <name> ...``) with its own per-namespace sysctls.

Helper: ``run_check_in_netns`` runs one check in a subprocess inside a namespace, optionally without
CAP_NET_RAW (as an unprivileged probe would run), and returns its result as a dict.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from .common import in_ci, require_binary

LAB_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")
_LOCK_FILE = "/tmp/vedette-netns.lock"
_counter = iter(range(1, 10_000))


def _ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def set_sysctl(namespace: str, name: str, value: str) -> None:
    """Write a per-namespace sysctl (``net.ipv4.ip_forward``) inside ``namespace``."""
    path = "/proc/sys/" + name.replace(".", "/")
    _ip("netns", "exec", namespace, "sh", "-c", f"echo '{value}' > {path}")


def _unique_name(role: str) -> str:
    return f"vdt{os.getpid()}{role}{next(_counter)}"[:15]


def require_netns() -> None:
    """Skip (fail under CI=true) unless this process may create network namespaces."""
    require_binary("ip", "iproute2")
    probe = _unique_name("p")
    try:
        _ip("netns", "add", probe)
    except RuntimeError as exc:
        reason = f"cannot create network namespaces here ({exc}); run the tests as root"
        if in_ci():
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    _ip("netns", "del", probe)


def _used_lab_subnets() -> set[ipaddress.IPv4Network]:
    text = _ip("-4", "-o", "addr", "show") + _ip("-4", "route", "show", "table", "all")
    return {
        ipaddress.IPv4Network(f"{found}/24", strict=False)
        for found in re.findall(r"\b(198\.1[89]\.\d+\.\d+)", text)
    }


@dataclass
class IcmpLab:
    host: str
    router: str
    target: str
    lossy_target: str
    silent_target: str
    unrouted: str
    """An address of the lab /24 the router has no route for: it answers Destination Unreachable."""
    namespaces: list[str] = field(default_factory=list)


def _build_lab(subnet: ipaddress.IPv4Network, lab: IcmpLab, host_link: str) -> None:
    base = subnet.network_address
    router, target, lossy, silent = (_unique_name(role) for role in "rtls")
    for namespace in (router, target, lossy, silent):
        _ip("netns", "add", namespace)
        lab.namespaces.append(namespace)
        _ip("-n", namespace, "link", "set", "lo", "up")

    # host <-> router
    _ip("link", "add", host_link, "type", "veth", "peer", "name", "up0", "netns", router)
    _ip("addr", "add", f"{base + 1}/30", "dev", host_link)
    _ip("link", "set", host_link, "up")
    _ip("-n", router, "addr", "add", f"{base + 2}/30", "dev", "up0")
    _ip("-n", router, "link", "set", "up0", "up")
    _ip("route", "add", str(subnet), "via", str(base + 2), "dev", host_link)
    set_sysctl(router, "net.ipv4.ip_forward", "1")
    set_sysctl(router, "net.ipv4.icmp_ratelimit", "0")

    # router <-> each target, on B.4/30, B.8/30, B.12/30
    for index, namespace in enumerate((target, lossy, silent), start=1):
        gateway, address = base + 4 * index + 1, base + 4 * index + 2
        _ip(
            "-n",
            router,
            "link",
            "add",
            f"dn{index}",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            namespace,
        )
        _ip("-n", router, "addr", "add", f"{gateway}/30", "dev", f"dn{index}")
        _ip("-n", router, "link", "set", f"dn{index}", "up")
        _ip("-n", namespace, "addr", "add", f"{address}/30", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "route", "add", "default", "via", str(gateway))

    # Echo replies (type 0) join the rate-limited types (default mask 6168), one per 60 s per peer.
    set_sysctl(lossy, "net.ipv4.icmp_ratemask", "6169")
    set_sysctl(lossy, "net.ipv4.icmp_ratelimit", "60000")
    set_sysctl(silent, "net.ipv4.icmp_echo_ignore_all", "1")


@pytest.fixture(scope="session")
def icmp_lab() -> Iterator[IcmpLab]:
    require_netns()
    host_link = _unique_name("h")
    lab: IcmpLab | None = None
    try:
        # One lock across xdist workers: pick a free /24 and claim it (its route) before the next one looks.
        with open(_LOCK_FILE, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = _used_lab_subnets()
            candidates = [net for net in LAB_NETWORK.subnets(new_prefix=24) if net not in used]
            subnet = random.choice(candidates)
            base = subnet.network_address
            lab = IcmpLab(
                host=str(base + 1),
                router=str(base + 2),
                target=str(base + 6),
                lossy_target=str(base + 10),
                silent_target=str(base + 14),
                unrouted=str(base + 18),
            )
            _build_lab(subnet, lab, host_link)
        yield lab
    finally:
        for namespace in lab.namespaces if lab else []:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", host_link], capture_output=True, timeout=30)


@pytest.fixture
def empty_netns() -> Iterator[str]:
    require_netns()
    name = _unique_name("e")
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


_RUN_ONE_CHECK = """
import asyncio, json, sys
from prober.base import CheckContext
from prober.registry import load_registry
from prober.runner import run_check

name, target, params, timeout = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), float(sys.argv[4])
check_type = load_registry(autoload=False, builtins=["checktypes." + name.lower()]).get(name)
ctx = CheckContext(target=target, threshold=max(int(timeout), 1), timeout=timeout)
result = asyncio.run(run_check(check_type, params, ctx))
print(json.dumps({"status": result.status, "code": result.code, "message": result.message,
                  "config_error": result.config_error, "details": result.details}))
"""


def run_check_in_netns(
    namespace: str,
    check_type: str,
    target: str,
    params: dict[str, Any] | None = None,
    *,
    seconds: float = 2.0,
    without_net_raw: bool = True,
) -> dict[str, Any]:
    """Run one check (by type name) in a fresh interpreter inside ``namespace``.

    ``without_net_raw`` drops CAP_NET_RAW from the bounding set, so even root cannot open raw sockets and
    only unprivileged ping sockets (``net.ipv4.ping_group_range``) remain.
    """
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    command = ["ip", "netns", "exec", namespace]
    if without_net_raw:
        command += ["setpriv", "--bounding-set", "-net_raw", "--"]
    command += [
        sys.executable,
        "-c",
        _RUN_ONE_CHECK,
        check_type,
        target,
        json.dumps(params or {}),
        str(seconds),
    ]
    env = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=repo, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"check subprocess failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
