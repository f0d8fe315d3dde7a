"""Check creation through the HTTP API: N PORT checks, sequentially and with concurrency C, against a real
``vedette serve --no-probe`` on SQLite and (when PostgreSQL 15 is installed) on PostgreSQL, same workload in
one run; prints the SQLite/PostgreSQL ratio.

    python bench/create_checks.py                      # 1,000 checks, concurrency 10, both databases
    python bench/create_checks.py --count 5000 --concurrency 50 --no-postgres

Each phase (backend x mode) gets a fresh server and an empty database; at the end of a phase
GET /api/1/checks must list exactly N checks. The last line of output is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import VedetteServer, percentile, postgres_available, postgres_cluster


def check_body(i: int) -> dict[str, Any]:
    return {"type": "PORT", "target": "127.0.0.1", "port": 1024 + i % 60000, "interval": 1, "enabled": True}


async def create_many(base: str, token: str, count: int, concurrency: int) -> dict[str, Any]:
    url = f"{base}/api/1/checks?token={token}"
    latencies: list[float] = []
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(url) as warm:  # open the keep-alive connection(s) outside the timing
            await warm.read()
        counter = iter(range(count))

        async def one_client() -> None:
            for i in counter:
                began = time.perf_counter()
                async with session.post(url, json=check_body(i)) as response:
                    body = await response.read()
                    latencies.append(time.perf_counter() - began)
                    if response.status != 200 or b'"_id"' not in body:
                        errors.append(f"{response.status} {body[:200]!r}")

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        total = time.perf_counter() - began
        async with session.get(url) as response:
            listed = await response.json()
    return {
        "count": count,
        "concurrency": concurrency,
        "seconds": round(total, 3),
        "per_second": round(count / total, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "listed": len(listed),
        "verified": len(listed) == count and not errors,
    }


def run_phase(db_url: str, workdir: str, count: int, concurrency: int) -> dict[str, Any]:
    server = VedetteServer(workdir=workdir, db_url=db_url, probe=False).start()
    try:
        assert server.token is not None
        cpu_before = server.cpu_seconds()
        result = asyncio.run(create_many(server.base, server.token, count, concurrency))
        result["server_cpu_s"] = round(server.cpu_seconds() - cpu_before, 2)
        result["server_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
    finally:
        server.stop()
    return result


def describe(backend: str, r: dict[str, Any]) -> str:
    mode = "sequential" if r["concurrency"] == 1 else f"concurrency {r['concurrency']}"
    ok = "ok" if r["verified"] else f"FAILED (listed {r['listed']}, {r['errors']} errors: {r['first_error']})"
    return (
        f"  {backend:10} {mode:15} {r['seconds']:7.2f} s  {r['per_second']:7.1f}/s  "
        f"p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  server CPU {r['server_cpu_s']:5.2f} s  "
        f"verified {ok}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000, help="checks created per phase (default 1000)")
    parser.add_argument("--concurrency", type=int, default=10, help="concurrent clients (default 10)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL comparison")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, db)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="vedette-bench-create-")
    modes = [("sequential", 1), ("concurrent", args.concurrency)]
    report: dict[str, Any] = {"benchmark": "create_checks", "count": args.count}
    print(f"Creating {args.count} PORT checks through POST /api/1/checks (one keep-alive aiohttp session)")
    try:
        for mode, concurrency in modes:
            workdir = os.path.join(tmp, f"sqlite-{mode}")
            os.makedirs(workdir)
            db = f"sqlite+aiosqlite:///{workdir}/v.db"
            report[f"sqlite_{mode}"] = r = run_phase(db, workdir, args.count, concurrency)
            print(describe("SQLite", r), flush=True)
        if args.no_postgres:
            print("  PostgreSQL skipped (--no-postgres)")
        elif not postgres_available():
            print("  PostgreSQL skipped: /usr/lib/postgresql/15/bin/postgres not installed")
        else:
            with postgres_cluster() as pg:
                for mode, concurrency in modes:
                    workdir = os.path.join(tmp, f"pg-{mode}")
                    os.makedirs(workdir)
                    db = pg.new_database("bench")
                    report[f"postgres_{mode}"] = r = run_phase(db, workdir, args.count, concurrency)
                    print(describe("PostgreSQL", r), flush=True)
            for mode, _ in modes:
                sqlite, postgres = report[f"sqlite_{mode}"], report[f"postgres_{mode}"]
                ratio = round(sqlite["per_second"] / postgres["per_second"], 2)
                report[f"ratio_sqlite_over_postgres_{mode}"] = ratio
                print(f"  SQLite/PostgreSQL creations per second, {mode}: {ratio}x")
    finally:
        if args.keep:
            print(f"  kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report["all_verified"] = all(v["verified"] for v in report.values() if isinstance(v, dict))
    print(json.dumps(report))
    return 0 if report["all_verified"] else 1


if __name__ == "__main__":
    sys.exit(main())
