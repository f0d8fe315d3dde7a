"""SSH checks per second on one probe: Vedette's SSH check type against a local Debian OpenSSH server.

    python bench/ssh_checks.py                                # 200 checks per mode, concurrency 20
    python bench/ssh_checks.py --count 1000 --concurrency 50 --modes login

Starts ``/usr/sbin/sshd -D`` on 127.0.0.1:<free port> in a temp dir (test-servers.md section 4; needs root,
``/run/sshd`` and the system account ``sshtest`` with password ``testpw``, as scripts/test sets up), then
runs the checks in this process through ``prober.runner.run_check`` (parameter validation, timeout and
result envelope included) with at most ``--concurrency`` in flight. Two modes:

- ``handshake``: no credentials, the ``none`` login only (``SSH connected but login failed``);
- ``login``: password login as sshtest (``Logged in``).

For each mode it prints the wall time, checks per second, the probe's CPU seconds (``getrusage``
``RUSAGE_SELF``: this process, user + system) and CPU milliseconds per check, and sshd's CPU seconds
(its listener plus the reaped per-connection children, from /proc). Every check must pass or the run
fails. The last line of output is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
from _harness import CLK_TCK, ROOT, free_port  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests"))
from servers.common import tcp_open, wait_until  # noqa: E402

sys.path.insert(0, ROOT)
import asyncssh  # noqa: E402

from prober.base import CheckContext  # noqa: E402
from prober.registry import CheckType, load_registry  # noqa: E402
from prober.runner import run_check  # noqa: E402

SSHD = "/usr/sbin/sshd"
USER = "sshtest"
PASSWORD = "testpw"
MODES: dict[str, tuple[dict[str, Any], tuple[str, str]]] = {
    "handshake": ({}, ("Connected", "SSH connected but login failed")),
    "login": ({"username": USER, "password": PASSWORD}, ("Logged in", f"Logged in as {USER}")),
}


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_with_children(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid`` (children count once they have been reaped)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(value) for value in fields[11:15]) / CLK_TCK


def start_sshd(workdir: str) -> tuple[subprocess.Popen[bytes], int]:
    host_key = os.path.join(workdir, "host_ed25519_key")
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(host_key)
    os.chmod(host_key, 0o600)
    port = free_port()
    config = os.path.join(workdir, "sshd_config")
    with open(config, "w") as f:
        f.write(
            f"ListenAddress 127.0.0.1:{port}\n"
            f"HostKey {host_key}\n"
            f"PidFile {workdir}/sshd.pid\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "PasswordAuthentication yes\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin no\n"
            "UseDNS no\n"
            "MaxStartups 1000\n"
            "LogLevel ERROR\n"
        )
    with open(os.path.join(workdir, "sshd.log"), "wb") as log:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stdout=log, stderr=subprocess.STDOUT)
    wait_until(lambda: tcp_open(port), proc, timeout=20)
    return proc, port


async def run_mode(
    check_type: CheckType, port: int, params: dict[str, Any], count: int, concurrency: int
) -> tuple[float, float, list[Any]]:
    ctx = CheckContext(target="127.0.0.1", threshold=30, timeout=30.0)
    limit = asyncio.Semaphore(concurrency)

    async def one() -> Any:
        async with limit:
            return await run_check(check_type, {"port": port, **params}, ctx)

    cpu_before = cpu_self()
    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(count)))
    return time.perf_counter() - started, cpu_self() - cpu_before, results


async def bench(port: int, sshd_pid: int, modes: list[str], count: int, concurrency: int) -> dict[str, Any]:
    check_type = load_registry(autoload=False, builtins=["checktypes.ssh"]).get("SSH")
    report: dict[str, Any] = {"count": count, "concurrency": concurrency, "modes": {}}
    # One warm-up check per mode: imports, first key exchange, sshd's first fork.
    for mode in modes:
        await run_mode(check_type, port, MODES[mode][0], 1, 1)
    for mode in modes:
        params, expected = MODES[mode]
        sshd_before = cpu_with_children(sshd_pid)
        wall, cpu, results = await run_mode(check_type, port, params, count, concurrency)
        await asyncio.sleep(0.5)  # let sshd reap its last children before reading its CPU
        sshd_cpu = cpu_with_children(sshd_pid) - sshd_before
        failures = [r for r in results if (r.status, r.code, r.message) != ("up", *expected)]
        if failures:
            first = failures[0]
            example = f"{first.status} {first.code} {first.message}"
            raise SystemExit(f"{mode}: {len(failures)} of {count} checks failed, e.g. {example}")
        durations = sorted(r.duration_ms for r in results)
        report["modes"][mode] = {
            "wall_s": round(wall, 3),
            "checks_per_s": round(count / wall, 1),
            "probe_cpu_s": round(cpu, 3),
            "probe_cpu_ms_per_check": round(cpu / count * 1000, 2),
            "checks_per_probe_cpu_s": round(count / cpu, 1) if cpu else None,
            "sshd_cpu_s": round(sshd_cpu, 3),
            "median_ms": round(durations[len(durations) // 2], 1),
            "p95_ms": round(durations[min(len(durations) - 1, int(len(durations) * 0.95))], 1),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="checks per mode (default 200)")
    parser.add_argument("--concurrency", type=int, default=20, help="checks in flight (default 20)")
    parser.add_argument("--modes", default="handshake,login", help="comma-separated: handshake, login")
    args = parser.parse_args()
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    if os.geteuid() != 0 or not os.access(SSHD, os.X_OK) or not os.path.isdir("/run/sshd"):
        raise SystemExit("needs root, /usr/sbin/sshd (openssh-server) and /run/sshd (see scripts/test)")

    workdir = tempfile.mkdtemp(prefix="bench-sshd-", dir="/tmp")
    os.chmod(workdir, 0o755)
    proc = None
    try:
        proc, port = start_sshd(workdir)
        report = asyncio.run(bench(port, proc.pid, modes, args.count, args.concurrency))
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"SSH checks against OpenSSH on 127.0.0.1: {args.count} per mode, concurrency {args.concurrency}")
    print(
        f"{'mode':<10} {'wall s':>8} {'checks/s':>9} {'probe CPU s':>12} {'CPU ms/check':>13}"
        f" {'sshd CPU s':>11}"
    )
    for mode, row in report["modes"].items():
        print(
            f"{mode:<10} {row['wall_s']:>8.2f} {row['checks_per_s']:>9.1f} {row['probe_cpu_s']:>12.2f}"
            f" {row['probe_cpu_ms_per_check']:>13.2f} {row['sshd_cpu_s']:>11.2f}"
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
