"""Scheduler start lag: N enabled PORT checks at a 1-minute interval against a local TCP listener.

    python bench/scheduler_lag.py                       # 10,000 checks, measure 120 s after the restart
    python bench/scheduler_lag.py --checks 2000 --measure 60 --concurrency 200

1. A TCP listener (accept, close) runs on 127.0.0.1 in its own process, so it never shares the
   controller's event loop or the benchmark's.
2. ``vedette serve`` (SQLite, in-process probe) starts; N PORT checks (interval 1, sens 0: no rechecks) are
   created through POST /api/1/checks with ``--create-concurrency`` clients; the time it took is reported.
3. The server is stopped (SIGTERM) and started again on the same database, so all N checks are loaded at
   start; the time to "ready" is reported.
4. For ``--measure`` seconds the controller runs; then it is stopped gracefully and the results table is
   read read-only with sqlite3: lag = ``start - scheduled`` per result, results per minute (by scheduled
   time) against the expected N per minute, starts per 5-second bucket in the first minute, controller
   CPU seconds (/proc/<pid>/stat) and peak RSS (VmHWM).

The last line of output is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import VedetteServer, percentile

# --- the target: a TCP listener in its own process -------------------------------------------------------


def listener_main(conn: Connection) -> None:
    accepted = 0

    class AcceptAndClose(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            nonlocal accepted
            accepted += 1
            transport.close()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(AcceptAndClose, "127.0.0.1", 0, backlog=4096)
        conn.send(server.sockets[0].getsockname()[1])
        while not await loop.run_in_executor(None, conn.poll, 0.5):
            pass
        conn.recv()
        server.close()
        conn.send(accepted)

    asyncio.run(serve())


# --- creating the checks ---------------------------------------------------------------------------------


async def create_checks(base: str, token: str, count: int, port: int, concurrency: int) -> dict[str, Any]:
    url = f"{base}/api/1/checks?token={token}"
    body = {"type": "PORT", "target": "127.0.0.1", "port": port, "interval": 1, "sens": 0, "enabled": True}
    errors: list[str] = []
    latencies: list[float] = []
    counter = iter(range(count))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one_client() -> None:
            for _ in counter:
                began = time.perf_counter()
                async with session.post(url, json=body) as response:
                    text = await response.read()
                    latencies.append(time.perf_counter() - began)
                    if response.status != 200:
                        errors.append(f"{response.status} {text[:200]!r}")

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        seconds = time.perf_counter() - began
        async with session.get(url) as response:
            listed = len(await response.json())
    return {
        "seconds": round(seconds, 2),
        "per_second": round(count / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "listed": listed,
    }


# --- measuring -------------------------------------------------------------------------------------------


def sample_health(server: VedetteServer, seconds: float) -> dict[str, Any]:
    """Poll /health once a second for ``seconds``; keep the worst backlog seen and a CPU time line."""
    worst_jobs = worst_busy = 0
    cpu_line: list[tuple[float, float]] = []
    began = time.monotonic()
    cpu0 = server.cpu_seconds()
    next_tick = began
    while (now := time.monotonic()) - began < seconds:
        try:
            health = server.health()
            worst_jobs = max(worst_jobs, health["jobs_waiting"])
            worst_busy = max(worst_busy, health["probe_busy"])
        except OSError as exc:
            print(f"  /health failed: {exc}", flush=True)
        if int(now - began) % 10 == 0 and (not cpu_line or now - began - cpu_line[-1][0] >= 9.5):
            cpu_line.append((round(now - began, 1), round(server.cpu_seconds() - cpu0, 2)))
        next_tick += 1.0
        time.sleep(max(0.0, next_tick - time.monotonic()))
    return {"max_jobs_waiting": worst_jobs, "max_probe_busy": worst_busy, "cpu_timeline": cpu_line}


def first_attempt(locations: str | None, start: int) -> int:
    """The first run's start: ``locations`` maps each attempt's start (ms) to its probe. ``start`` is the
    *last* attempt's (the one that decided), so it includes sens rechecks and their delay."""
    try:
        return min(int(key) for key in json.loads(locations or "{}")) if locations else start
    except ValueError:
        return start


def lag_stats(lags: list[int]) -> dict[str, Any]:
    return {
        "p50": percentile(lags, 50),
        "p95": percentile(lags, 95),
        "p99": percentile(lags, 99),
        "max": max(lags) if lags else None,
        "min": min(lags) if lags else None,
        "over_1s": sum(1 for lag in lags if lag > 1000),
    }


def analyse(db_path: str, window_start: int, window_end: int, checks: int) -> dict[str, Any]:
    """Results whose scheduled time falls in [window_start, window_end) (epoch ms)."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT check_id, scheduled, start, success, locations FROM results"
        " WHERE scheduled >= ? AND scheduled < ? ORDER BY scheduled",
        (window_start, window_end),
    ).fetchall()
    total_results = db.execute("SELECT count(*) FROM results").fetchone()[0]
    db.close()
    lags = [start - scheduled for _, scheduled, start, _, _ in rows]
    first_lags = [first_attempt(loc, start) - scheduled for _, scheduled, start, _, loc in rows]
    rechecked = sum(1 for *_, loc in rows if loc and len(json.loads(loc)) > 1)
    minutes = (window_end - window_start) // 60_000
    per_minute = []
    for m in range(minutes):
        lo, hi = window_start + m * 60_000, window_start + (m + 1) * 60_000
        in_minute = [(row[0], row[2] - row[1]) for row in rows if lo <= row[1] < hi]
        per_minute.append(
            {
                "results": len(in_minute),
                "distinct_checks": len({cid for cid, _ in in_minute}),
                "lag_p99_ms": percentile([lag for _, lag in in_minute], 99),
            }
        )
    buckets = [0] * 12
    for _, _, start, _, loc in rows:
        offset = first_attempt(loc, start) - window_start
        if 0 <= offset < 60_000:
            buckets[offset // 5000] += 1
    return {
        "results_in_window": len(rows),
        "results_total_in_db": total_results,
        "failed_results": sum(1 for row in rows if not row[3]),
        "rechecked_results": rechecked,
        "full_minutes": minutes,
        "per_minute": per_minute,
        "expected_per_minute": checks,
        "lag_ms": lag_stats(lags),
        "first_attempt_lag_ms": lag_stats(first_lags),
        "first_minute_starts_per_5s": buckets,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=10_000, help="PORT checks (default 10000)")
    parser.add_argument("--measure", type=float, default=120.0, help="seconds to run after restart (120)")
    parser.add_argument("--concurrency", type=int, default=500, help="probe --concurrency (default 500)")
    parser.add_argument("--create-concurrency", type=int, default=20, help="API clients creating checks")
    parser.add_argument(
        "--create-no-probe",
        action="store_true",
        help="create the checks with --no-probe (default: the probe runs while they are created)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, db)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="vedette-bench-sched-")
    db_path = os.path.join(tmp, "v.db")
    db_url = f"sqlite+aiosqlite:///{db_path}"
    parent_end, child_end = multiprocessing.Pipe()
    listener = multiprocessing.Process(target=listener_main, args=(child_end,), daemon=True)
    listener.start()
    target_port = parent_end.recv()
    report: dict[str, Any] = {"benchmark": "scheduler_lag", "checks": args.checks, "measure_s": args.measure}
    server = VedetteServer(workdir=tmp, db_url=db_url, probe=not args.create_no_probe)
    server.concurrency = args.concurrency
    try:
        print(f"Listener on 127.0.0.1:{target_port}; creating {args.checks} PORT checks (interval 1, sens 0)")
        server.start()
        assert server.token is not None
        created = asyncio.run(
            create_checks(server.base, server.token, args.checks, target_port, args.create_concurrency)
        )
        report["create"] = created
        print(
            f"  created in {created['seconds']} s ({created['per_second']}/s, p50 {created['p50_ms']} ms, "
            f"p99 {created['p99_ms']} ms, max {created['max_ms']} ms), {created['errors']} errors, "
            f"listed {created['listed']}",
            flush=True,
        )
        report["first_stop_s"] = round(server.stop(), 2)

        server.probe = True
        load_epoch_ms = int(time.time() * 1000)
        server.start(timeout=300)
        assert server.ready_at is not None and server.listening_at is not None
        epoch_offset = time.time() - time.monotonic()
        ready_epoch_ms = int((server.ready_at + epoch_offset) * 1000)
        report["restart"] = {
            "to_ready_s": round(server.ready_at - server.started_at, 2),
            "to_listening_s": round(server.listening_at - server.started_at, 2),
            "checks_scheduled": server.ready_checks,
        }
        print(
            f"  restarted: ready after {report['restart']['to_ready_s']} s with "
            f"{server.ready_checks} checks scheduled (HTTP up after {report['restart']['to_listening_s']} s)",
            flush=True,
        )
        cpu_at_ready = server.cpu_seconds()
        wall_at_ready = time.monotonic()
        print(f"  measuring for {args.measure:.0f} s ...", flush=True)
        health = sample_health(server, args.measure)
        end_epoch_ms = int(time.time() * 1000)
        cpu_used = server.cpu_seconds() - cpu_at_ready
        wall = time.monotonic() - wall_at_ready
        peak_rss = server.peak_rss_mb()
        report["stop_s"] = round(server.stop(), 2)
        parent_end.send("stop")
        accepted = parent_end.recv() if parent_end.poll(10) else None

        stats = analyse(db_path, ready_epoch_ms, end_epoch_ms, args.checks)
        report.update(stats)
        report.update(health)
        report["load_to_ready_ms"] = ready_epoch_ms - load_epoch_ms
        report["controller_cpu_s"] = round(cpu_used, 2)
        report["controller_cpu_pct_of_one_core"] = round(100 * cpu_used / wall, 1)
        report["peak_rss_mb"] = round(peak_rss, 1)
        report["listener_accepted_total"] = accepted
    finally:
        server.stop()
        if listener.is_alive():
            listener.terminate()
        listener.join(5)
        if args.keep:
            print(f"  kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    lag = report["lag_ms"]
    print(f"  results per full minute (by scheduled time; expected {args.checks}):")
    for i, minute in enumerate(report["per_minute"], 1):
        print(
            f"    minute {i}: {minute['results']} results, {minute['distinct_checks']} distinct checks, "
            f"lag p99 {minute['lag_p99_ms']} ms"
        )
    print(
        f"  lag (start - scheduled) ms: p50 {lag['p50']}  p95 {lag['p95']}  p99 {lag['p99']}  "
        f"max {lag['max']}  (>1 s: {lag['over_1s']} of {report['results_in_window']})"
    )
    first = report["first_attempt_lag_ms"]
    print(
        f"  lag of the first attempt (scheduler + queue only, without sens rechecks): p50 {first['p50']}  "
        f"p95 {first['p95']}  p99 {first['p99']}  max {first['max']}  "
        f"({report['rechecked_results']} results include rechecks)"
    )
    print(f"  first-minute starts per 5 s bucket: {report['first_minute_starts_per_5s']}")
    print(
        f"  controller CPU {report['controller_cpu_s']} s over {args.measure:.0f} s "
        f"({report['controller_cpu_pct_of_one_core']}% of one core), peak RSS {report['peak_rss_mb']} MB"
    )
    print(
        f"  worst backlog: {report['max_jobs_waiting']} jobs waiting, {report['max_probe_busy']} running; "
        f"failed results {report['failed_results']}; listener accepted {accepted}"
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
