"""MYSQL check throughput of one probe: N checks through ``prober.runner.run_check`` with concurrency C
against a throwaway local MariaDB (Debian mariadb-server, started as in tests/servers/mariadb.py).

    python bench/mysql_checks.py                       # 300 checks per mode, concurrency 20
    python bench/mysql_checks.py --count 1000 --concurrency 50 --tls

Modes: ``connect`` (no database: connect, authenticate, quit) and ``query`` (database + ``SELECT NOW()``);
``--tls`` adds both over TLS (``secure``). Every check must come back up. For each mode it prints checks
per second, the probe's CPU seconds (this process: user + system) and CPU per check, latency percentiles,
and the server's CPU seconds. The last line of output is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from _harness import percentile, proc_cpu_seconds  # noqa: E402

from prober.base import CheckContext  # noqa: E402
from prober.registry import CheckType, load_registry  # noqa: E402
from prober.runner import run_check  # noqa: E402

MODES = {
    "connect": {},
    "query": {"database": "testdb", "query": "SELECT NOW()"},
}


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def mariadb() -> Iterator[Any]:
    """A ``tests/servers/mariadb.MariaDBServer`` with TLS, on 127.0.0.1 and a free port."""
    from servers import mariadb as fixture

    for binary in (fixture.MARIADBD, fixture.INSTALL_DB):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"{binary} not found: install the Debian package {fixture.PACKAGE}")
    with contextlib.contextmanager(fixture._start)(tls=True) as server:
        yield server


async def run_mode(
    mysql: CheckType, server: Any, params: dict[str, Any], count: int, concurrency: int
) -> dict[str, Any]:
    ctx = CheckContext(target="127.0.0.1", threshold=10, timeout=10.0)
    latencies: list[float] = []
    failures: dict[str, int] = {}
    counter = iter(range(count))

    async def worker() -> None:
        for _ in counter:
            result = await run_check(mysql, params, ctx)
            latencies.append(result.duration_ms)
            if result.status != "up":
                key = f"{result.code}: {result.message}"
                failures[key] = failures.get(key, 0) + 1

    pid = server.pid
    server_cpu = proc_cpu_seconds(pid)
    cpu = own_cpu_seconds()
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - began
    cpu = own_cpu_seconds() - cpu
    return {
        "checks": count,
        "concurrency": concurrency,
        "seconds": round(wall, 3),
        "checks_per_second": round(count / wall, 1),
        "probe_cpu_seconds": round(cpu, 3),
        "probe_cpu_ms_per_check": round(cpu * 1000 / count, 3),
        "server_cpu_seconds": round(proc_cpu_seconds(pid) - server_cpu, 3),
        "latency_ms": {p: round(percentile(latencies, p), 2) for p in (50, 95, 99)},
        "failures": failures,
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    mysql = load_registry(autoload=False, builtins=["checktypes.mysql"]).get("MYSQL")
    modes = {name: dict(params) for name, params in MODES.items()}
    if args.tls:
        modes.update({f"{name}+tls": {**params, "secure": "ssl"} for name, params in MODES.items()})
    report: dict[str, Any] = {"count": args.count, "concurrency": args.concurrency, "modes": {}}
    with mariadb() as server:
        login = {"port": server.port, "username": server.user, "password": server.password}
        # Warm-up (imports, first TLS context, server caches) outside the timing.
        await run_mode(
            mysql, server, {**login, **modes["query"]}, min(args.concurrency, 20), args.concurrency
        )
        for name, params in modes.items():
            stats = await run_mode(mysql, server, {**login, **params}, args.count, args.concurrency)
            report["modes"][name] = stats
            print(
                f"{name:12} {stats['checks_per_second']:8.1f} checks/s  "
                f"probe CPU {stats['probe_cpu_seconds']:6.2f} s "
                f"({stats['probe_cpu_ms_per_check']:.2f} ms/check)  "
                f"server CPU {stats['server_cpu_seconds']:6.2f} s  "
                f"p50 {stats['latency_ms'][50]:.1f} ms  p95 {stats['latency_ms'][95]:.1f} ms  "
                f"p99 {stats['latency_ms'][99]:.1f} ms  failures {sum(stats['failures'].values())}",
                flush=True,
            )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=300, help="checks per mode (default 300)")
    parser.add_argument("--concurrency", type=int, default=20, help="checks in flight (default 20)")
    parser.add_argument("--tls", action="store_true", help="also run both modes over TLS (secure)")
    args = parser.parse_args()
    report = asyncio.run(bench(args))
    print(json.dumps(report))
    failed = any(stats["failures"] for stats in report["modes"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
